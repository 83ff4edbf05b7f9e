"""Map a function's proxy result (payload 1.0 or 2.0) to the HTTP response, and gateway errors to JSON."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

MAX_SYNC_PAYLOAD = 6_291_556  # Lambda's synchronous request/response limit
MAX_ASYNC_PAYLOAD = 262_144
_JSON = "application/json"
# The server frames the body itself; a function's own framing headers would contradict it.
_DROPPED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class MalformedResponse(Exception):
    """The function's return value is not a valid proxy response."""


def json_error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> ProxyResponse:
    body = json.dumps({"message": message}).encode()
    return ProxyResponse(status, [("Content-Type", _JSON), *(headers or [])], body)


INTERNAL_ERROR = "Internal server error"


def bad_gateway() -> ProxyResponse:
    return json_error(502, INTERNAL_ERROR)


def gateway_timeout() -> ProxyResponse:
    return json_error(504, "Endpoint request timed out")


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResponse(f"header value must be a scalar, not {type(value).__name__}")


def _status(value: Any) -> int:
    if isinstance(value, bool):
        raise MalformedResponse("statusCode must be an integer")
    try:
        status = int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedResponse("statusCode must be an integer") from exc
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode out of range: {status}")
    return status


def _body(value: Any, is_b64: Any) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise MalformedResponse("body must be a string")
    if is_b64 is True:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("isBase64Encoded body is not base64") from exc
    return value.encode("utf-8")


def _headers(data: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    single = data.get("headers") or {}
    multi = data.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers must be objects")
    for name, value in single.items():
        if name.lower() not in _DROPPED and name not in multi:
            headers.append((name, _header_value(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        if name.lower() not in _DROPPED:
            headers.extend((name, _header_value(v)) for v in values)
    return headers


def _with_default_type(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", _JSON))
    return headers


def _load(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse("function result is not JSON") from exc


def from_v1(payload: bytes) -> ProxyResponse:
    data = _load(payload)
    if not isinstance(data, dict) or "statusCode" not in data:
        raise MalformedResponse("a REST proxy response needs statusCode")
    headers = _with_default_type(_headers(data))
    return ProxyResponse(_status(data["statusCode"]), headers, _body(data.get("body"), data.get("isBase64Encoded")))


def from_v2(payload: bytes) -> ProxyResponse:
    data = _load(payload)
    if not isinstance(data, dict) or "statusCode" not in data:
        # The 2.0 simple response: any other JSON value is the body of a 200 application/json.
        body = data.encode("utf-8") if isinstance(data, str) else json.dumps(data).encode("utf-8")
        return ProxyResponse(200, [("Content-Type", _JSON)], body)
    headers = _headers({"headers": data.get("headers")})
    cookies = data.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list")
    headers.extend(("Set-Cookie", _header_value(c)) for c in cookies)
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return ProxyResponse(_status(data["statusCode"]), _with_default_type(headers),
                         _body(body, data.get("isBase64Encoded")))


def from_function(outcome: str, payload: bytes, event_kind: str) -> ProxyResponse:
    """The client's response for one finished invocation, as API Gateway would give it."""
    if outcome == "timeout":
        return gateway_timeout()
    if outcome != "ok":
        return bad_gateway()
    try:
        return from_v2(payload) if event_kind == "HttpApi" else from_v1(payload)
    except MalformedResponse:
        return bad_gateway()
