"""REST API BinaryMediaTypes at the gateway: request bodies base64 by Content-Type, PNG bytes out."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from esb_runtime.gateway.proxy_events import encode_rest_body, is_binary_type
from esb_runtime.gateway.fake_manager import FakeManager
from test_conformance import make_client

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


@pytest.mark.parametrize(("content_type", "types", "binary"), [
    ("image/png", ("image/png",), True),
    ("IMAGE/PNG; charset=x", ("image/png",), True),
    ("image/gif", ("image/*",), True),
    ("application/json", ("*/*",), True),  # as on AWS: */* makes even JSON binary
    ("image/gif", ("image/png",), False),
    (None, ("*/*",), False),
    ("image/png", (), False),
])
def test_binary_type_matching(content_type: str | None, types: tuple[str, ...], binary: bool) -> None:
    assert is_binary_type(content_type, types) is binary


def test_rest_bodies_are_text_unless_binary() -> None:
    assert encode_rest_body(b"plain bytes", "application/octet-stream", ()) == ("plain bytes", False)
    assert encode_rest_body(b"abc", "image/png", ("image/png",)) == ("YWJj", True)
    # Not UTF-8 and not declared binary: API Gateway would mangle it; here it stays whole, base64.
    assert encode_rest_body(b"\xff", "application/octet-stream", ()) == ("/w==", True)
    assert encode_rest_body(b"", "image/png", ("image/png",)) == (None, False)


ROUTING = {
    "apis": {"Pics": {"kind": "Api", "stage": "dev", "cors": None, "variables": {"Shade": "blue"},
                      "binary_media_types": ["image/png"]}},
    "routes": [{"path": "/picture", "method": "ANY", "function": "pic", "event": "Api", "api": "Pics",
                "auth": False, "payload": "1.0"}],
}


def _picture(event: dict) -> dict:
    if event["httpMethod"] == "POST":
        return {"statusCode": 200, "body": json.dumps({k: event[k] for k in ("body", "isBase64Encoded",
                                                                              "stageVariables")})}
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
            "body": base64.b64encode(PNG).decode()}


def test_gateway_png_in_and_out(tmp_path: Path) -> None:
    client = make_client(tmp_path, FakeManager({"pic": _picture}), ROUTING)
    answer = client.simulate_get("/picture", headers={"Accept": "image/png"})
    assert (answer.status_code, answer.headers["Content-Type"], answer.content) == (200, "image/png", PNG)
    sent = client.simulate_post("/picture", body=PNG, headers={"Content-Type": "image/png"}).json
    assert sent["isBase64Encoded"] is True and base64.b64decode(sent["body"]) == PNG
    assert sent["stageVariables"] == {"Shade": "blue"}
    text = client.simulate_post("/picture", body=b"hello", headers={"Content-Type": "text/plain"}).json
    assert (text["body"], text["isBase64Encoded"]) == ("hello", False)
