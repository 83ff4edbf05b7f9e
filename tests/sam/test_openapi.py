"""Tests for esb.sam.openapi: DefinitionBody routes follow their `security` (securitySchemes with
x-amazon-apigateway-authorizer), reusing the authorizer model of Auth.Authorizers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from esb.errors import TemplateError
from esb.render import render_routing
from test_loader import load

URI = "!Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${%s.Arn}/invocations"
BODY = f"""\
Fn:
  Type: AWS::Serverless::Function
  Properties: {{CodeUri: src, Handler: app.handler, Runtime: python3.12}}
Authz:
  Type: AWS::Serverless::Function
  Properties: {{CodeUri: src, Handler: app.authorize, Runtime: python3.12}}
Pool:
  Type: AWS::Cognito::UserPool
  Properties: {{UserPoolName: users}}
Rest:
  Type: AWS::Serverless::Api
  Properties:
    StageName: Prod
    DefinitionBody:
      swagger: "2.0"
      security: [{{Users: []}}]
      securityDefinitions:
        Users:
          type: apiKey
          name: Authorization
          in: header
          x-amazon-apigateway-authtype: cognito_user_pools
          x-amazon-apigateway-authorizer:
            type: cognito_user_pools
            providerARNs: [!GetAtt Pool.Arn]
        Token:
          type: apiKey
          name: X-Token
          in: header
          x-amazon-apigateway-authtype: custom
          x-amazon-apigateway-authorizer:
            type: token
            authorizerUri: {URI % "Authz"}
            authorizerResultTtlInSeconds: 60
            identityValidationExpression: "^allow.*"
        Req:
          type: apiKey
          name: Unused
          in: header
          x-amazon-apigateway-authtype: custom
          x-amazon-apigateway-authorizer:
            type: request
            authorizerUri: {URI % "Authz"}
            identitySource: method.request.header.X-User, method.request.querystring.tenant
            authorizerResultTtlInSeconds: 0
        api_key: {{type: apiKey, name: x-api-key, in: header}}
        sigv4: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
      paths:
        /default:
          get:
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: {URI % "Fn"}
        /open:
          get:
            security: []
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: {URI % "Fn"}
        /token:
          get:
            security: [{{Token: [], api_key: []}}]
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: {URI % "Fn"}
        /request:
          get:
            security: [{{Req: []}}]
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: {URI % "Fn"}
        /iam:
          post:
            security: [{{sigv4: []}}]
            x-amazon-apigateway-integration:
              type: aws_proxy
              uri: {URI % "Fn"}
Http:
  Type: AWS::Serverless::HttpApi
  Properties:
    DefinitionBody:
      openapi: "3.0.1"
      components:
        securitySchemes:
          Jwt:
            type: oauth2
            x-amazon-apigateway-authorizer:
              type: jwt
              identitySource: $request.header.Authorization
              jwtConfiguration: {{issuer: "https://issuer.example/", audience: [app]}}
          Simple:
            type: apiKey
            name: X-User
            in: header
            x-amazon-apigateway-authorizer:
              type: request
              authorizerUri: {URI % "Authz"}
              identitySource: $request.header.X-User
              authorizerPayloadFormatVersion: "2.0"
              enableSimpleResponses: true
      paths:
        /jwt:
          get:
            security: [{{Jwt: [items/read]}}]
            x-amazon-apigateway-integration: {{type: aws_proxy, uri: !GetAtt Fn.Arn, payloadFormatVersion: "2.0"}}
        /simple:
          get:
            security: [{{Simple: []}}]
            x-amazon-apigateway-integration: {{type: aws_proxy, uri: !GetAtt Fn.Arn, payloadFormatVersion: "2.0"}}
"""


def _routing(tmp_path: Path, text: str = BODY) -> dict:
    return yaml.safe_load(render_routing(load(tmp_path, text)))


def test_routes_follow_their_security_requirement(tmp_path: Path) -> None:
    routes = {r["path"]: r for r in _routing(tmp_path)["routes"]}
    assert routes["/default"]["authorizer"] == "Users"  # the body's top-level security
    assert "authorizer" not in routes["/open"] and "api_key" not in routes["/open"]  # security: []
    assert routes["/token"]["authorizer"] == "Token" and routes["/token"]["api_key"] is True
    assert routes["/request"]["authorizer"] == "Req"
    assert routes["/iam"]["authorizer"] == "AWS_IAM"
    assert routes["/jwt"]["authorizer"] == "Jwt" and routes["/jwt"]["scopes"] == ["items/read"]
    assert routes["/simple"]["authorizer"] == "Simple"


def test_schemes_become_the_apis_authorizers(tmp_path: Path) -> None:
    app = load(tmp_path, BODY)
    assert app.warnings == ()
    apis = yaml.safe_load(render_routing(app))["apis"]
    rest, http = apis["Rest"]["authorizers"], apis["Http"]["authorizers"]
    assert rest["Users"] == {"type": "cognito", "pools": [app.user_pools[0].pool_id]}
    assert rest["Token"] == {"type": "token", "header": "X-Token", "function": "Authz", "ttl": 60,
                             "validation": "^allow.*"}
    assert rest["Req"] == {"type": "request", "function": "Authz", "ttl": 0,
                           "identity": ["method.request.header.X-User", "method.request.querystring.tenant"]}
    assert http["Jwt"] == {"type": "jwt", "issuer": "https://issuer.example/", "audience": ["app"],
                           "identity": ["$request.header.Authorization"]}
    assert http["Simple"] == {"type": "request", "function": "Authz", "identity": ["$request.header.X-User"],
                              "simple_responses": True, "payload": "2.0"}


def test_without_security_routes_follow_the_apis_auth(tmp_path: Path) -> None:
    text = BODY.replace('      security: [{Users: []}]\n', '').replace(
        "    StageName: Prod\n", "    StageName: Prod\n    Auth: {DefaultAuthorizer: AWS_IAM, ApiKeyRequired: true}\n", 1)
    routes = {r["path"]: r for r in _routing(tmp_path, text)["routes"]}
    assert routes["/default"]["authorizer"] == "AWS_IAM" and routes["/default"]["api_key"] is True
    assert "authorizer" not in routes["/open"]  # its own empty security still opens it


def test_unknown_scheme_in_security_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="security names Nobody, which is not a security scheme of the body"):
        load(tmp_path, BODY.replace("[{Req: []}]", "[{Nobody: []}]"))


def test_unsupported_schemes_are_warnings(tmp_path: Path) -> None:
    text = BODY.replace("        api_key: {type: apiKey, name: x-api-key, in: header}\n",
                        "        api_key: {type: apiKey, name: x-api-key, in: header}\n"
                        "        basic: {type: basic}\n")
    assert [str(w) for w in load(tmp_path, text).warnings] == [
        "Rest.DefinitionBody.securitySchemes.basic: neither an x-amazon-apigateway-authorizer, awsSigv4 nor "
        "x-api-key; its routes are open"]
