"""CORS from routing.yml apis.<id>.cors and Function URL configs: preflights answered here, headers on responses.

Two flavours, as AWS has them:
- REST APIs (SAM `Cors`): SAM deploys an OPTIONS mock integration per path that answers 200 with the
  configured values verbatim, whatever the request's Origin; they are added to the function's answers too
  (as `sam local start-api` does), unless the function set that header itself.
- HTTP APIs (`CorsConfiguration`) and Function URLs: the origin is matched against the allowed list; a
  preflight is answered with 204, and the configured headers replace the function's own.
"""

from __future__ import annotations

from esb_runtime.config import Cors
from esb_runtime.gateway.responses import ProxyResponse

Headers = list[tuple[str, str]]
# What SAM lists for a path with an ANY method (its x-amazon-apigateway-any-method), OPTIONS included.
ANY_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_origin(cors: Cors, origin: str | None) -> str | None:
    """Function URLs: the Access-Control-Allow-Origin value for this origin, or None when it is not allowed."""
    if not origin:
        return None
    if origin in cors.allow_origins:
        return origin
    if "*" in cors.allow_origins:
        # Browsers refuse "*" on credentialed requests, so echo the origin then.
        return origin if cors.allow_credentials else "*"
    return None


def _http_api_origin(cors: Cors, origin: str | None) -> str | None:
    """HTTP APIs: "*" when every origin is allowed (even with no Origin header), else the matching origin."""
    if "*" in cors.allow_origins:
        return "*"
    return origin if origin and origin in cors.allow_origins else None


def is_preflight(method: str, origin: str | None, request_method: str | None) -> bool:
    return method == "OPTIONS" and bool(origin) and bool(request_method)


def _grants(cors: Cors, allow_origin: str, allow_methods: str, allow_headers: str) -> Headers:
    headers: Headers = [("Access-Control-Allow-Origin", allow_origin)]
    if allow_methods:
        headers.append(("Access-Control-Allow-Methods", allow_methods))
    if allow_headers:
        headers.append(("Access-Control-Allow-Headers", allow_headers))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return headers


def _listed_or_requested(configured: tuple[str, ...], requested: str | None) -> str:
    """A configured "*" answers with what the browser asked for (it refuses "*" on credentialed requests)."""
    if "*" in configured:
        return requested or "*"
    return ",".join(configured)


def preflight(cors: Cors, origin: str | None, request_method: str, request_headers: str | None) -> ProxyResponse:
    """Function URLs' preflight answer."""
    allow_origin = _allowed_origin(cors, origin)
    headers: Headers = [("Vary", "Origin")]
    if allow_origin is None:
        return ProxyResponse(204, headers)
    methods = _listed_or_requested(cors.allow_methods, request_method.upper() or None)
    allowed = _listed_or_requested(cors.allow_headers, request_headers) if cors.allow_headers else ""
    return ProxyResponse(204, headers + _grants(cors, allow_origin, methods, allowed))


def response_headers(cors: Cors, origin: str | None) -> Headers:
    """Function URLs: headers added to an actual (non-preflight) response."""
    allow_origin = _allowed_origin(cors, origin)
    if allow_origin is None:
        return []
    headers = [("Access-Control-Allow-Origin", allow_origin), ("Vary", "Origin")]
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return headers


def rest_methods(cors: Cors, path_methods: tuple[str, ...]) -> str:
    """SAM's Access-Control-Allow-Methods: the configured value, else the path's methods plus OPTIONS, sorted."""
    if "*" not in cors.allow_methods:
        return ",".join(cors.allow_methods)
    if "ANY" in path_methods:
        return ",".join(ANY_METHODS)
    return ",".join(sorted({*path_methods, "OPTIONS"}))


def api_headers(kind: str, cors: Cors, origin: str | None, path_methods: tuple[str, ...],
                request_method: str | None = None, request_headers: str | None = None) -> Headers:
    """The CORS headers of an API's preflight answer and of its actual responses ([] when the origin is refused)."""
    if kind != "HttpApi":
        return _grants(cors, ",".join(cors.allow_origins), rest_methods(cors, path_methods),
                       ",".join(cors.allow_headers))
    allow_origin = _http_api_origin(cors, origin)
    if allow_origin is None:
        return []
    methods = _listed_or_requested(cors.allow_methods, request_method.upper() if request_method else None)
    allowed = _listed_or_requested(cors.allow_headers, request_headers) if cors.allow_headers else ""
    headers = _grants(cors, allow_origin, methods, allowed)
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if allow_origin != "*":
        headers.append(("Vary", "Origin"))
    return headers


def api_preflight(kind: str, headers: Headers) -> ProxyResponse:
    """SAM's REST OPTIONS mock answers 200 with an empty JSON body; HTTP APIs answer 204 No Content."""
    if kind == "HttpApi":
        return ProxyResponse(204, headers)
    return ProxyResponse(200, [("Content-Type", "application/json"), *headers])
