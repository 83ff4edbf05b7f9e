"""API Gateway settings from SAM into routing.yml: quoted CORS strings, stage variables, payload formats, compat."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml

from esb.errors import TemplateError
from esb.model import Cors
from esb.project import Compat
from esb.render import render_routing
from test_loader import FN, load

APIS = FN + """\
    Events:
      Rest: {Type: Api, Properties: {Path: /r, Method: get, RestApiId: !Ref MyApi}}
      V1: {Type: HttpApi, Properties: {Path: /v1, Method: get, ApiId: !Ref MyHttp, PayloadFormatVersion: "1.0"}}
      V1Number: {Type: HttpApi, Properties: {Path: /v1n, Method: get, ApiId: !Ref MyHttp, PayloadFormatVersion: 1.0}}
      V2: {Type: HttpApi, Properties: {Path: /v2, Method: get, ApiId: !Ref MyHttp}}
      Default: {Type: HttpApi, Properties: {ApiId: !Ref MyHttp}}
MyApi:
  Type: AWS::Serverless::Api
  Properties:
    StageName: dev
    Variables: {VarName: varValue, Num: 3}
    Cors:
      AllowOrigin: "'*''"
      AllowMethods: "'GET'"
      AllowHeaders: "'origin, x-requested-with'"
      AllowCredentials: "'true'"
      MaxAge: "'510'"
MyHttp:
  Type: AWS::Serverless::HttpApi
  Properties:
    StageName: dev-http
    StageVariables: {VarNameHttpApi: varValueV2}
"""


def test_rest_cors_strings_are_unquoted_as_sam_does(tmp_path: Path) -> None:
    api = {a.logical_id: a for a in load(tmp_path, APIS).apis}["MyApi"]
    # SAM strips every quote at either end: the malformed "'*''" is *.
    assert api.cors == Cors(allow_origins=("*",), allow_methods=("GET",),
                            allow_headers=("origin", "x-requested-with"), allow_credentials=True, max_age=510)


def test_rest_cors_shorthand_string(tmp_path: Path) -> None:
    app = load(tmp_path, FN + "    Events:\n      E: {Type: Api, Properties: {Path: /a, Method: get}}\n",
               head="Globals:\n  Api:\n    Cors: \"'https://x.example'\"\n")
    api = {a.logical_id: a for a in app.apis}["ServerlessRestApi"]
    assert api.cors == Cors(allow_origins=("https://x.example",), allow_methods=("*",))


def test_stage_variables_payload_formats_and_default_route_reach_routing(tmp_path: Path) -> None:
    doc = yaml.safe_load(render_routing(load(tmp_path, APIS)))
    assert doc["apis"]["MyApi"]["variables"] == {"Num": "3", "VarName": "varValue"}
    assert doc["apis"]["MyHttp"]["variables"] == {"VarNameHttpApi": "varValueV2"}
    payloads = {r["path"]: r["payload"] for r in doc["routes"]}
    assert payloads == {"/r": "1.0", "/v1": "1.0", "/v1n": "1.0", "/v2": "2.0", "$default": "2.0"}
    assert doc["compat"] == {"seed_status_codes": False}
    assert load(tmp_path, APIS).warnings == ()


def test_compat_switch_reaches_routing(tmp_path: Path) -> None:
    doc = yaml.safe_load(render_routing(load(tmp_path, APIS), Compat(seed_status_codes=True)))
    assert doc["compat"] == {"seed_status_codes": True}


@pytest.mark.parametrize("event", [
    "{Type: HttpApi, Properties: {Path: /x, Method: get, PayloadFormatVersion: '3.0'}}",
    "{Type: Api, Properties: {Path: /x, Method: get, PayloadFormatVersion: '1.0'}}",
])
def test_bad_payload_format_is_one_clear_error(tmp_path: Path, event: str) -> None:
    with pytest.raises(TemplateError, match="PayloadFormatVersion"):
        load(tmp_path, FN + f"    Events:\n      E: {event}\n")


OPENAPI = FN + """\
Other:
  Type: AWS::Serverless::Function
  Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12, FunctionName: other-fn}
MyApi:
  Type: AWS::Serverless::Api
  Properties:
    StageName: dev
    Auth: {DefaultAuthorizer: NONE}
    DefinitionBody:
      swagger: "2.0"
      info: {title: !Ref AWS::StackName}
      x-amazon-apigateway-binary-media-types: [image/gif]
      paths:
        /anyandall:
          x-amazon-apigateway-any-method:
            x-amazon-apigateway-integration:
              httpMethod: POST
              type: aws_proxy
              uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
        /echo:
          parameters: []
          post:
            x-amazon-apigateway-integration:
              type: AWS_PROXY
              uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Other.Arn}/invocations
          get:
            x-amazon-apigateway-integration: {type: mock}
        /elsewhere:
          get:
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:gone/invocations
MyHttp:
  Type: AWS::Serverless::HttpApi
  Properties:
    DefinitionBody:
      openapi: "3.0.1"
      paths:
        /v1:
          get:
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: !GetAtt Fn.Arn
              payloadFormatVersion: "1.0"
"""


def test_definition_body_routes_are_served(tmp_path: Path) -> None:
    app = load(tmp_path, OPENAPI)
    doc = yaml.safe_load(render_routing(app))
    routes = {(r["method"], r["path"]): (r["function"], r["api"], r["payload"], r.get("authorizer"))
              for r in doc["routes"]}
    # Without a DefaultAuthorizer the routes of a DefinitionBody are open, as the template's events are.
    assert routes == {
        ("ANY", "/anyandall"): ("Fn", "MyApi", "1.0", None),
        ("POST", "/echo"): ("other-fn", "MyApi", "1.0", None),
        ("GET", "/v1"): ("Fn", "MyHttp", "1.0", None),
    }
    # What cannot be served is said, never dropped silently.
    assert [str(w) for w in app.warnings] == [
        "MyApi.DefinitionBody.paths./echo.get: integration type 'mock' not supported (only aws_proxy), route ignored",
        "MyApi.DefinitionBody.paths./elsewhere.get: integration uri names no function of this template, route ignored",
    ]


def test_zip_code_uri_is_unpacked_and_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_CACHE_DIR", str(tmp_path / "cache"))
    with zipfile.ZipFile(tmp_path / "code.zip", "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return {'body': 'zipped'}\n")
    app = load(tmp_path, FN.replace("CodeUri: src", "CodeUri: code.zip"))
    code = app.function("Fn").code_uri
    assert code.parent == tmp_path / "cache" / "code" and (code / "app.py").is_file()
    assert load(tmp_path, FN.replace("CodeUri: src", "CodeUri: code.zip")).function("Fn").code_uri == code


def test_zip_code_uri_escaping_the_archive_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_CACHE_DIR", str(tmp_path / "cache"))
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../outside.py", "x = 1\n")
    with pytest.raises(TemplateError, match="outside the archive"):
        load(tmp_path, FN.replace("CodeUri: src", "CodeUri: evil.zip"))
    assert not (tmp_path / "cache" / "outside.py").exists()
