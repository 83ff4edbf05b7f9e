"""One request on the gateway's data path, read from the WSGI environ, and its answer's status line and headers.

The data path (API routes, function URLs, /health) is served without a web framework (issue 14: Falcon's request
and response objects, middleware and routing were a fifth of the gateway's time per proxied call). `Exchange` is
the part of falcon.Request that the proxy code reads, so the code that also serves Falcon's resources (`read_body`)
takes either; the answer keeps the wire form the gateway had under Falcon: lower-case header names, a repeated
header joined by ", " (Set-Cookie lines kept apart, after the others), JSON as the default Content-Type.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Protocol

from esb_runtime.errors import MalformedRequest
from esb_runtime.gateway.responses import ProxyResponse

_SPECIAL = {"CONTENT_TYPE", "CONTENT_LENGTH"}  # the two headers WSGI keeps without the HTTP_ prefix
NO_CONTENT = frozenset({204, 304})  # no body, no Content-Type, no length of their own
_STATUS_LINES: dict[int, str] = {}


class Context:
    """What the gateway learns about a request while answering it (falcon.Request.context's role)."""

    __slots__ = ("started", "trace", "request_id", "function", "lambda_request_id")

    def __init__(self) -> None:
        self.function: str | None = None
        self.lambda_request_id: str | None = None


class Exchange:
    __slots__ = ("env", "method", "path", "context")

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.method: str = env["REQUEST_METHOD"]
        path: str = env["PATH_INFO"] or "/"
        if not path.isascii():  # WSGI carries the path's bytes as latin-1: they are UTF-8
            path = path.encode("iso-8859-1").decode("utf-8", "replace")
        self.path = path
        self.context = Context()

    def get_header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        value = self.env.get(key if key in _SPECIAL else "HTTP_" + key)
        return value or None

    @property
    def remote_addr(self) -> str:
        return self.env.get("REMOTE_ADDR") or "127.0.0.1"


class HasEnviron(Protocol):
    env: dict[str, Any]


def read_body(req: HasEnviron, limit: int) -> bytes | None:
    """The whole body (of an Exchange or a falcon.Request), or None when it is larger than `limit` (nothing past
    the limit is buffered). Broken framing is the client's fault: MalformedRequest 400, or 408 for a body that
    stopped arriving, never a 500."""
    env = req.env
    stream = env["wsgi.input"]
    declared = env.get("CONTENT_LENGTH") or ""
    try:
        if declared:
            if not declared.isdigit():
                raise MalformedRequest("Bad Request: Content-Length is not a number")
            length = int(declared)
            if length > limit:
                return None
            return bytes(stream.read(length)) if length else b""
        if env.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
            return b""
        # A chunked body has no declared length: read one byte past the limit to detect an excess.
        data = bytes(stream.read(limit + 1))
    except TimeoutError as exc:  # checked first: the worker's I/O timeout is an OSError too
        raise MalformedRequest("Request Timeout: the body stopped arriving", 408) from exc
    except MalformedRequest as exc:  # http1.reader: a bad chunk, a body cut short
        if exc.status == 408:
            raise MalformedRequest("Request Timeout: the body stopped arriving", 408) from exc
        raise MalformedRequest("Bad Request: malformed request body framing") from exc
    return None if len(data) > limit else data


def status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = _STATUS_LINES[status] = f"{status} {phrase}"
    return line


def wsgi_headers(response: ProxyResponse, extra: list[tuple[str, str]], last: list[tuple[str, str]]
                 ) -> list[tuple[str, str]]:
    """The answer's headers: the response's own (appended), then `extra` and `last` (each replacing a same-named
    one); Content-Type application/json unless set (or a 204/304)."""
    headers: dict[str, str] = {}
    cookies: list[tuple[str, str]] = []
    for name, value in response.headers:
        name = name.lower()
        if name == "set-cookie":
            cookies.append((name, value))
        elif name in headers:
            headers[name] += ", " + value
        else:
            headers[name] = value
    for name, value in (*extra, *last):  # never cookies: CORS headers, the trace and the request id
        headers[name.lower()] = value
    if "content-type" not in headers and response.status not in NO_CONTENT:
        headers["content-type"] = "application/json"
    return [*headers.items(), *cookies]
