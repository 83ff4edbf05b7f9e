"""Payload 1.0 and 2.0 events built from one request."""

from __future__ import annotations

import base64

from esb_runtime.gateway.proxy_events import EventContext, build_event, clf_time, encode_body
from esb_runtime.gateway.request import IncomingRequest, from_environ
from esb_runtime.gateway.routing import Route

NOW = 1_700_000_000.123


def request(**overrides: object) -> IncomingRequest:
    values: dict[str, object] = dict(
        method="POST", path="/users/42/orders", raw_path="/users/42/orders",
        query_string="a=1&a=2&b=x%20y&empty=",
        headers=(("Content-Type", "application/json"), ("X-Custom", "v1"), ("User-Agent", "ua/1"),
                 ("Cookie", "s=1; t=2"), ("Host", "localhost:8443")),
        body=b'{"k": "v"}', source_ip="127.0.0.9", protocol="HTTP/1.1", host="localhost:8443",
    )
    values.update(overrides)
    return IncomingRequest(**values)  # type: ignore[arg-type]


def ctx(event: str, claims: dict | None = None, params: dict | None = None) -> EventContext:
    route = Route("/users/{id}/{proxy+}", "ANY", "fn", event, "MyApi", auth=claims is not None)
    return EventContext(route, "Prod" if event == "Api" else "$default",
                        {"id": "42", "proxy": "orders"} if params is None else params,
                        "req-1", NOW, "123456789012", claims)


def test_v1_fields() -> None:
    event = build_event(request(), ctx("Api", claims={"sub": "u1", "iat": 5}))
    assert event["resource"] == "/users/{id}/{proxy+}"
    assert event["path"] == "/users/42/orders"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Custom"] == "v1"
    assert event["multiValueHeaders"]["X-Custom"] == ["v1"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "empty": [""]}
    assert event["pathParameters"] == {"id": "42", "proxy": "orders"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    rc = event["requestContext"]
    assert rc["accountId"] == "123456789012"
    assert rc["resourcePath"] == "/users/{id}/{proxy+}"
    assert rc["httpMethod"] == "POST"
    assert rc["requestId"] == "req-1"
    assert rc["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert rc["requestTimeEpoch"] == 1_700_000_000_123
    assert rc["stage"] == "Prod"
    assert rc["path"] == "/Prod/users/42/orders"
    assert rc["protocol"] == "HTTP/1.1"
    assert rc["domainName"] == "localhost:8443"
    assert rc["identity"]["sourceIp"] == "127.0.0.9"
    assert rc["identity"]["userAgent"] == "ua/1"
    assert rc["authorizer"]["claims"] == {"sub": "u1", "iat": "5"}
    assert len(rc["apiId"]) == 10


def test_v1_nulls_when_empty() -> None:
    event = build_event(request(query_string="", body=b"", method="GET"), ctx("Api", params={}))
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


def test_v2_fields() -> None:
    event = build_event(request(headers=(("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "s=1; t=2"),
                                         ("User-Agent", "ua/2"))),
                        ctx("HttpApi", claims={"sub": "u1"}))
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /users/{id}/{proxy+}"
    assert event["rawPath"] == "/users/42/orders"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["headers"] == {"x-multi": "a,b", "user-agent": "ua/2"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["pathParameters"] == {"id": "42", "proxy": "orders"}
    rc = event["requestContext"]
    assert rc["http"] == {"method": "POST", "path": "/users/42/orders", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.9", "userAgent": "ua/2"}
    assert rc["routeKey"] == event["routeKey"]
    assert rc["stage"] == "$default"
    assert rc["domainPrefix"] == "localhost"
    assert rc["time"] == "14/Nov/2023:22:13:20 +0000" and rc["timeEpoch"] == 1_700_000_000_123
    assert rc["authorizer"]["jwt"]["claims"] == {"sub": "u1"}
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False


def test_v2_omits_absent_optional_fields() -> None:
    event = build_event(request(query_string="", body=b"", headers=()), ctx("HttpApi", params={}))
    for key in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert key not in event
    assert event["isBase64Encoded"] is False


def test_binary_bodies_are_base64() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    event = build_event(request(body=png, headers=(("Content-Type", "image/png"),)), ctx("Api"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    # Not UTF-8 even though the type claims text: still base64.
    v2 = build_event(request(body=b"\xff\xfe", headers=(("Content-Type", "text/plain"),)), ctx("HttpApi"))
    assert v2["isBase64Encoded"] is True and base64.b64decode(v2["body"]) == b"\xff\xfe"


def test_encode_body_rules() -> None:
    assert encode_body(b"hi", "text/plain; charset=utf-8") == ("hi", False)
    assert encode_body(b"hi", "application/vnd.api+json") == ("hi", False)
    assert encode_body(b"hi", None) == ("hi", False)
    assert encode_body(b"hi", "application/octet-stream") == ("aGk=", True)
    assert encode_body(b"", "image/png") == (None, False)


def test_from_environ_recovers_header_case_and_raw_path() -> None:
    env = {"REQUEST_METHOD": "GET", "QUERY_STRING": "x=1", "HTTP_X_FORWARDED_FOR": "1.2.3.4",
           "CONTENT_TYPE": "text/plain", "HTTP_HOST": "h:1", "RAW_URI": "/a%20b?x=1", "REMOTE_ADDR": "10.0.0.1",
           "SERVER_PROTOCOL": "HTTP/1.1"}
    req = from_environ(env, "/a b", b"")
    assert ("X-Forwarded-For", "1.2.3.4") in req.headers
    assert ("Content-Type", "text/plain") in req.headers
    assert req.raw_path == "/a%20b"
    assert req.host == "h:1" and req.source_ip == "10.0.0.1"
    assert from_environ({k: v for k, v in env.items() if k != "RAW_URI"}, "/a b", b"").raw_path == "/a%20b"


def test_clf_time_is_locale_independent() -> None:
    assert clf_time(0) == "01/Jan/1970:00:00:00 +0000"
