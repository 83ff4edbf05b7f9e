"""Reading request bodies from and writing ProxyResponses to Falcon's request/response objects."""

from __future__ import annotations

import falcon

from esb_runtime.errors import MalformedRequest
from esb_runtime.gateway.responses import ProxyResponse


def read_body(req: falcon.Request, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than `limit` (nothing past the limit is buffered).

    Broken framing (a bad chunk size, a body cut short) is the client's fault: HTTP 400, not a 500.
    """
    try:
        return _read(req, limit)
    except MalformedRequest as exc:  # http_reader: a bad chunk, a body cut short
        raise falcon.HTTPBadRequest(title="Bad Request: malformed request body framing") from exc
    except TimeoutError as exc:  # the worker's I/O timeout: a body that stopped arriving
        raise falcon.HTTPError(falcon.HTTP_408, title="Request Timeout: the body stopped arriving") from exc


def _read(req: falcon.Request, limit: int) -> bytes | None:
    length = req.content_length
    if length is not None:
        if length > limit:
            return None
        return req.bounded_stream.read() if length else b""
    if req.env.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return b""
    # A chunked body has no declared length: read one byte past the limit to detect an excess.
    data = req.stream.read(limit + 1)
    return None if len(data) > limit else data


def send(resp: falcon.Response, response: ProxyResponse, extra: list[tuple[str, str]] | None = None) -> None:
    resp.status = response.status
    for name, value in response.headers:
        resp.append_header(name, value)
    for name, value in extra or ():
        resp.set_header(name, value)
    resp.data = response.body
