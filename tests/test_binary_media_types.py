"""REST API BinaryMediaTypes: SAM's `~1` spelling, routing.yml, and request bodies base64 by Content-Type."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from esb.render import render_routing
from esb_runtime.gateway.events import encode_rest_body, is_binary_type
from esb_runtime.gateway.fake_manager import FakeManager
from test_gateway_conformance import make_client
from test_sam_loader import FN, load

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")

TEMPLATE = FN + """\
    Events:
      Rest: {Type: Api, Properties: {Path: /r, Method: post, RestApiId: !Ref MyApi}}
      Http: {Type: HttpApi, Properties: {Path: /h, Method: post, ApiId: !Ref MyHttp}}
MyApi:
  Type: AWS::Serverless::Api
  Properties:
    StageName: dev
    BinaryMediaTypes: ["image~1png", "application~1octet-stream"]
    DefinitionBody:
      swagger: "2.0"
      x-amazon-apigateway-binary-media-types: ["image/*"]
      paths: {}
MyHttp:
  Type: AWS::Serverless::HttpApi
  Properties:
    BinaryMediaTypes: ["image~1png"]
"""


def test_binary_media_types_reach_routing_unescaped(tmp_path: Path) -> None:
    app = load(tmp_path, TEMPLATE)
    api = {a.logical_id: a for a in app.apis}
    assert api["MyApi"].binary_media_types == ("application/octet-stream", "image/*", "image/png")
    doc = yaml.safe_load(render_routing(app))
    assert doc["apis"]["MyApi"]["binary_media_types"] == ["application/octet-stream", "image/*", "image/png"]
    # HTTP APIs have no binary media types: said once, naming resource and property.
    assert "binary_media_types" not in doc["apis"]["MyHttp"]
    assert [str(w) for w in app.warnings if "BinaryMediaTypes" in str(w)] == [
        "MyHttp.BinaryMediaTypes: not supported, ignored"]


def test_globals_binary_media_types_reach_the_implicit_api(tmp_path: Path) -> None:
    head = "Globals:\n  Api:\n    BinaryMediaTypes: ['*~1*']\n"
    app = load(tmp_path, FN + "    Events: {R: {Type: Api, Properties: {Path: /r, Method: get}}}\n", head)
    assert {a.logical_id: a.binary_media_types for a in app.apis}["ServerlessRestApi"] == ("*/*",)


def test_malformed_binary_media_types_is_an_error(tmp_path: Path) -> None:
    from esb.errors import TemplateError

    with pytest.raises(TemplateError, match="BinaryMediaTypes"):
        load(tmp_path, TEMPLATE.replace('["image~1png", "application~1octet-stream"]', "image~1png"))


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


def test_properties_that_change_answers_are_warned_about(tmp_path: Path) -> None:
    api = """\
MyApi:
  Type: AWS::Serverless::Api
  Properties:
    StageName: dev
    Description: quietly irrelevant locally
    GatewayResponses: {DEFAULT_4XX: {StatusCode: 400}}
    MinimumCompressionSize: 1024
"""
    app = load(tmp_path, FN + api)
    assert [str(w) for w in app.warnings] == ["MyApi.GatewayResponses: not supported, ignored",
                                              "MyApi.MinimumCompressionSize: not supported, ignored"]
