"""REST API BinaryMediaTypes from SAM (`~1` spelling, Globals, the DefinitionBody extension) into routing.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from esb.render import render_routing
from test_loader import FN, load

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
