"""CORS from routing.yml apis.<id>.cors: preflights answered by the gateway, headers on responses."""

from __future__ import annotations

from esb_runtime.gateway.config_source import Cors
from esb_runtime.gateway.responses import ProxyResponse


def _allowed_origin(cors: Cors, origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for this origin, or None when it is not allowed."""
    if not origin:
        return None
    if origin in cors.allow_origins:
        return origin
    if "*" in cors.allow_origins:
        # Browsers refuse "*" on credentialed requests, so echo the origin then.
        return origin if cors.allow_credentials else "*"
    return None


def is_preflight(method: str, origin: str | None, request_method: str | None) -> bool:
    return method == "OPTIONS" and bool(origin) and bool(request_method)


def preflight(cors: Cors, origin: str | None, request_method: str, request_headers: str | None) -> ProxyResponse:
    allow_origin = _allowed_origin(cors, origin)
    headers: list[tuple[str, str]] = [("Vary", "Origin")]
    if allow_origin is None:
        return ProxyResponse(204, headers)
    methods = cors.allow_methods
    allow_methods = request_method.upper() if "*" in methods else ",".join(methods)
    if "*" in cors.allow_headers:
        allow_headers = request_headers or ""
    else:
        allow_headers = ",".join(cors.allow_headers)
    headers.append(("Access-Control-Allow-Origin", allow_origin))
    if allow_methods:
        headers.append(("Access-Control-Allow-Methods", allow_methods))
    if allow_headers:
        headers.append(("Access-Control-Allow-Headers", allow_headers))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return ProxyResponse(204, headers)


def response_headers(cors: Cors, origin: str | None) -> list[tuple[str, str]]:
    """Headers added to an actual (non-preflight) response."""
    allow_origin = _allowed_origin(cors, origin)
    if allow_origin is None:
        return []
    headers = [("Access-Control-Allow-Origin", allow_origin), ("Vary", "Origin")]
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return headers
