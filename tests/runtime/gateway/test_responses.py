"""Proxy response mapping for payload 1.0 and 2.0, and the error outcomes."""

from __future__ import annotations

import base64
import json

import pytest

from esb_runtime.gateway.responses import MalformedResponse, from_function, from_v1, from_v2


def dump(value: object) -> bytes:
    return json.dumps(value).encode()


def test_v1_string_body_is_verbatim() -> None:
    r = from_v1(dump({"statusCode": 201, "body": '"quoted"', "headers": {"Content-Type": "text/plain"}}))
    assert r.status == 201
    assert r.body == b'"quoted"'
    assert ("Content-Type", "text/plain") in r.headers


def test_v1_base64_body_is_decoded() -> None:
    raw = bytes(range(256))
    r = from_v1(dump({"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}))
    assert r.body == raw


def test_v1_multi_value_headers_and_default_type() -> None:
    r = from_v1(dump({"statusCode": 200, "headers": {"X-One": "1", "X-Both": "single"},
                      "multiValueHeaders": {"X-Both": ["a", "b"], "Set-Cookie": ["c=1", "d=2"]}}))
    assert ("X-One", "1") in r.headers
    # API Gateway merges both maps: every value of multiValueHeaders, then the headers value.
    assert [v for k, v in r.headers if k == "X-Both"] == ["a", "b", "single"]
    assert [v for k, v in r.headers if k == "Set-Cookie"] == ["c=1", "d=2"]
    assert ("Content-Type", "application/json") in r.headers
    assert r.body == b""


def test_v1_drops_framing_headers() -> None:
    r = from_v1(dump({"statusCode": 200, "headers": {"Content-Length": "999"}, "body": "x"}))
    assert all(k.lower() != "content-length" for k, _ in r.headers)


@pytest.mark.parametrize("payload", [
    b"not json", dump("just a string"), dump({"body": "x", "extra": 1}), dump({"statusCode": "abc"}),
    dump({"statusCode": 200, "body": {"obj": 1}}), dump({"statusCode": 200, "headers": {"X": {"a": 1}}}),
    dump({"statusCode": 200, "body": "!!", "isBase64Encoded": True}),
])
def test_v1_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        from_v1(payload)


def test_v2_simple_response_object() -> None:
    r = from_v2(dump({"hello": "world"}))
    assert r.status == 200
    assert json.loads(r.body) == {"hello": "world"}
    assert ("Content-Type", "application/json") in r.headers


def test_v2_simple_response_string_is_not_requoted() -> None:
    assert from_v2(dump("Hello from Lambda!")).body == b"Hello from Lambda!"


def test_v2_structured_with_cookies_and_base64() -> None:
    r = from_v2(dump({"statusCode": 302, "headers": {"Location": "/x"}, "cookies": ["a=1; Path=/", "b=2"],
                      "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}))
    assert r.status == 302
    assert [v for k, v in r.headers if k == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    assert ("Location", "/x") in r.headers
    assert r.body == b"\x00\x01"


@pytest.mark.parametrize(("outcome", "status", "message"), [
    ("error", 502, "Internal server error"),
    ("crash", 502, "Internal server error"),
    ("init_error", 502, "Internal server error"),
    ("timeout", 502, "Internal server error"),  # the function's own timeout, within the integration's
])
def test_function_failures(outcome: str, status: int, message: str) -> None:
    r = from_function(outcome, b'{"errorMessage": "boom"}', "Api")
    assert r.status == status
    assert json.loads(r.body) == {"message": message}


def test_malformed_result_is_502() -> None:
    r = from_function("ok", dump({"nope": 1}), "Api")
    assert r.status == 502 and json.loads(r.body) == {"message": "Internal server error"}
    assert from_function("ok", dump({"nope": 1}), "HttpApi").status == 200
