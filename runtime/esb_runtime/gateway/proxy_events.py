"""API Gateway proxy events: payload 1.0 (REST APIs, and HTTP API routes that ask for it) and HTTP API payload 2.0."""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qsl

from esb_runtime.gateway.request import IncomingRequest
from esb_runtime.gateway.routing import Route

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded",
               "application/graphql", "application/yaml", "application/x-yaml", "application/ld+json")


@dataclass(frozen=True)
class EventContext:
    route: Route
    stage: str
    params: Mapping[str, str]
    request_id: str
    now: float  # epoch seconds
    account_id: str
    claims: Mapping[str, Any] | None = None
    # What the route's authorizer hands on, as requestContext.authorizer (wins over `claims`).
    authorizer: Mapping[str, Any] | None = None
    stage_variables: Mapping[str, str] | None = None
    identity: Mapping[str, Any] | None = None  # payload 1.0: what the route's authorizer adds to requestContext.identity
    binary_media_types: tuple[str, ...] = ()  # the REST API's BinaryMediaTypes ("image/png", "image/*", "*/*")

    @property
    def route_key(self) -> str:
        return "$default" if self.route.is_default else f"{self.route.method} {self.route.path}"

    @property
    def stage_path(self) -> str:
        """The stage as requestContext.path prefixes it: a $default stage is not in the URL."""
        return "" if self.stage == "$default" else f"/{self.stage}"


@functools.lru_cache(maxsize=256)
def api_id_for(api: str) -> str:
    """A stable 10-character id in API Gateway's style for a template's API logical id."""
    return hashlib.sha256(api.encode()).hexdigest()[:10]


@functools.lru_cache(maxsize=1024)
def _resource_id(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:6]


@functools.lru_cache(maxsize=4)  # events come many per second
def _clf_second(second: int) -> str:
    t = time.gmtime(second)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def clf_time(now: float) -> str:
    """dd/Mon/yyyy:HH:MM:SS +0000, built by hand so the month name never depends on the locale."""
    return _clf_second(int(now))


def is_text_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text types that decode as UTF-8 pass as text, everything else base64."""
    if not body:
        return None, False
    if content_type is None or is_text_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def is_binary_type(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether a REST API treats this Content-Type as binary: an exact entry, `type/*` or `*/*`."""
    if not content_type or not binary_media_types:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    family = media.split("/", 1)[0]
    return any(pattern in (media, "*/*", f"{family}/*") for pattern in binary_media_types)


def encode_rest_body(body: bytes, content_type: str | None, binary_media_types: tuple[str, ...]) -> tuple[str | None, bool]:
    """A REST API's request body: base64 when its Content-Type is one of the API's BinaryMediaTypes, else text.
    API Gateway would mangle bytes that are not UTF-8 into text; they go base64 here, so nothing is lost."""
    if not body:
        return None, False
    if not is_binary_type(content_type, binary_media_types):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    return parse_qsl(query_string, keep_blank_values=True) if query_string else []


def string_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    # API Gateway hands authorizer claims to the function as strings.
    return {k: v if isinstance(v, str) else str(v) for k, v in claims.items()}


def build_v1(request: IncomingRequest, ctx: EventContext) -> dict[str, Any]:
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in _query_pairs(request.query_string):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    http_api = ctx.route.event == "HttpApi"
    if http_api:  # an HTTP API's 1.0 event: its own rule, by text types
        body, is_b64 = encode_body(request.body, request.header("Content-Type"))
    else:
        body, is_b64 = encode_rest_body(request.body, request.header("Content-Type"), ctx.binary_media_types)
    user_agent = request.header("User-Agent")
    context: dict[str, Any] = {
        "accountId": ctx.account_id,
        "apiId": api_id_for(ctx.route.api),
        "resourceId": None if http_api else _resource_id(ctx.route.path),
        "resourcePath": ctx.route.path,
        "httpMethod": request.method,
        "requestId": ctx.request_id,
        "extendedRequestId": ctx.request_id,
        "requestTime": clf_time(ctx.now),
        "requestTimeEpoch": int(ctx.now * 1000),
        "stage": ctx.stage,
        "path": f"{ctx.stage_path}{request.path}",
        "protocol": request.protocol,
        "domainName": request.host,
        "identity": {
            "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
            "accessKey": None, "sourceIp": request.source_ip, "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None, "userArn": None, "userAgent": user_agent, "user": None,
            **(ctx.identity or {}),
        },
    }
    if http_api:
        context["domainPrefix"] = _domain_prefix(request.host)
    if ctx.authorizer is not None:
        context["authorizer"] = dict(ctx.authorizer)
    elif ctx.claims is not None:
        context["authorizer"] = {"claims": string_claims(ctx.claims)}
    # An HTTP API's 1.0 event says its version; a REST API's has no such field.
    version = {"version": "1.0"} if http_api else {}
    return {
        **version,
        "resource": ctx.route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(ctx.params) or None,
        "stageVariables": dict(ctx.stage_variables) if ctx.stage_variables else None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_b64,
    }


def build_v2(request: IncomingRequest, ctx: EventContext) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    query: dict[str, str] = {}
    for key, value in _query_pairs(request.query_string):
        query[key] = f"{query[key]},{value}" if key in query else value
    route_key = ctx.route_key
    context: dict[str, Any] = {
        "accountId": ctx.account_id,
        "apiId": api_id_for(ctx.route.api),
        "domainName": request.host,
        "domainPrefix": _domain_prefix(request.host),
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("User-Agent", ""),
        },
        "requestId": ctx.request_id,
        "routeKey": route_key,
        "stage": ctx.stage,
        "time": clf_time(ctx.now),
        "timeEpoch": int(ctx.now * 1000),
    }
    if ctx.authorizer is not None:
        context["authorizer"] = dict(ctx.authorizer)
    elif ctx.claims is not None:
        context["authorizer"] = {"jwt": {"claims": string_claims(ctx.claims), "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.query_string,
        "headers": headers,
    }
    # HTTP APIs leave out the optional fields rather than sending null, so handlers written for AWS
    # (`"cookies" in event`) behave the same here.
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if ctx.params:
        event["pathParameters"] = dict(ctx.params)
    event["requestContext"] = context
    if ctx.stage_variables:
        event["stageVariables"] = dict(ctx.stage_variables)
    body, is_b64 = encode_body(request.body, request.header("Content-Type"))
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_b64
    return event


def _domain_prefix(host: str) -> str:
    return host.split(".", 1)[0].split(":", 1)[0]


def build_event(request: IncomingRequest, ctx: EventContext) -> dict[str, Any]:
    return build_v2(request, ctx) if ctx.route.payload_version == "2.0" else build_v1(request, ctx)
