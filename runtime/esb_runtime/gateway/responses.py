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


def _text_body(value: Any) -> str | None:
    """API Gateway reads a number or boolean body as its JSON text ({"body": 42} gives 42); objects are invalid."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    raise MalformedResponse("body must be a string")


def _flag(value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value is None or isinstance(value, bool):
        return bool(value)
    raise MalformedResponse("isBase64Encoded must be a boolean")


def _body(value: Any, is_b64: Any) -> bytes:
    text = _text_body(value)
    if text is None:
        return b""
    if _flag(is_b64):
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("isBase64Encoded body is not base64") from exc
    return text.encode("utf-8")


def _headers(data: dict[str, Any]) -> list[tuple[str, str]]:
    """headers and multiValueHeaders merged as API Gateway does: every value of both, a pair only once."""
    single = data.get("headers") or {}
    multi = data.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers must be objects")
    merged: dict[str, list[str]] = {}
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        merged[name] = [_header_value(v) for v in values]
    for name, value in single.items():
        text = _header_value(value)
        if text not in merged.setdefault(name, []):
            merged[name].append(text)
    return [(name, value) for name, values in merged.items() if name.lower() not in _DROPPED for value in values]


def _with_default_type(headers: list[tuple[str, str]], status: int = 200) -> list[tuple[str, str]]:
    # 204 and 304 carry no content, so no type either (HTTP forbids a body there).
    if status not in (204, 304) and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", _JSON))
    return headers


def _load(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse("function result is not JSON") from exc


# REST APIs refuse a proxy result with any other key; HTTP APIs (payload 1.0) skip unknown keys.
_REST_KEYS = frozenset({"statusCode", "body", "headers", "multiValueHeaders", "isBase64Encoded", "base64Encoded",
                        "cookies"})


def from_v1(payload: bytes, *, rest: bool = True) -> ProxyResponse:
    """Payload 1.0: a REST API defaults a missing statusCode to 200; an HTTP API requires it."""
    data = _load(payload)
    if not isinstance(data, dict):
        raise MalformedResponse("a payload 1.0 proxy response must be an object")
    if rest and not data.keys() <= _REST_KEYS:
        raise MalformedResponse(f"unexpected keys {sorted(data.keys() - _REST_KEYS)}")
    if data.get("statusCode") is None and not rest:
        raise MalformedResponse("an HTTP API payload 1.0 response needs statusCode")
    status = 200 if data.get("statusCode") is None else _status(data["statusCode"])
    # REST APIs read base64Encoded first (undocumented, measured by SAM CLI's authors); HTTP APIs ignore it.
    is_b64 = data["base64Encoded"] if rest and data.get("base64Encoded") is not None else data.get("isBase64Encoded")
    return ProxyResponse(status, _with_default_type(_headers(data), status), _body(data.get("body"), is_b64))


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
    status = _status(data["statusCode"])
    return ProxyResponse(status, _with_default_type(headers, status), _body(body, data.get("isBase64Encoded")))


def from_function(outcome: str, payload: bytes, event_kind: str, payload_version: str = "") -> ProxyResponse:
    """The client's response for one finished invocation, as API Gateway would give it.

    `event_kind` is the API's kind (Api or HttpApi); `payload_version` its route's format (default: the kind's).
    """
    # A function that timed out within the integration timeout is a failed integration to API Gateway: 502.
    # 504 is only the gateway's own deadline passing (proxied_invoke.INTEGRATION_TIMEOUT_S).
    if outcome != "ok":
        return bad_gateway()
    try:
        if event_kind != "HttpApi":
            return from_v1(payload)
        return from_v1(payload, rest=False) if payload_version == "1.0" else from_v2(payload)
    except MalformedResponse:
        return bad_gateway()
