"""Template authorizers in the gateway with an in-memory manager: Cognito, JWT, Lambda TOKEN/REQUEST, API keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.lambda_authorizer import policy_effect
from esb_runtime.gateway.manager_client import InvokeResult
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from esb_runtime.signing_key import SigningKey
from fakes import functions_config

SECRETS = BoxSecrets.generate()
KEY = SigningKey.generate()
OUTSIDE = SigningKey.generate()  # an issuer the box does not run, known from an offline JWKS
OUTSIDE_ISSUER = "https://login.example.com/"
POOL = "eu-west-1_AppPool01"
ARN = "arn:aws:execute-api:eu-west-1:123456789012:"


def _route(path: str, api: str, kind: str, **auth: Any) -> dict[str, Any]:
    return {"path": path, "method": "GET", "function": "echo", "event": kind, "api": api, **auth}


ROUTING = {
    "apis": {
        "Rest": {"kind": "Api", "stage": "Prod", "authorizers": {
            "Users": {"type": "cognito", "pools": [POOL]},
            "Token": {"type": "token", "function": "auth", "validation": "^allow.*|^deny.*|^error.*|^boom.*",
                      "ttl": 60},
            "Req": {"type": "request", "function": "auth", "identity": ["method.request.header.X-User"], "ttl": 0},
        }},
        "Http": {"kind": "HttpApi", "stage": "$default", "authorizers": {
            "Jwt": {"type": "jwt", "issuer": OUTSIDE_ISSUER, "audience": ["app"],
                    "identity": ["$request.header.Authorization"]},
            "Simple": {"type": "request", "function": "auth", "identity": ["$request.header.X-User"],
                       "simple_responses": True, "payload": "2.0"},
        }},
    },
    "routes": [
        _route("/open", "Rest", "Api"),
        _route("/cognito", "Rest", "Api", authorizer="Users"),
        _route("/token", "Rest", "Api", authorizer="Token"),
        _route("/request", "Rest", "Api", authorizer="Req"),
        _route("/keyed", "Rest", "Api", api_key=True),
        _route("/jwt", "Http", "HttpApi", authorizer="Jwt"),
        _route("/scoped", "Http", "HttpApi", authorizer="Jwt", scopes=["items/read"]),
        _route("/simple", "Http", "HttpApi", authorizer="Simple"),
    ],
    "auth": {
        "default_pool": "eu-west-1_esbBox001", "login_pool": POOL,
        "pools": {"eu-west-1_esbBox001": {"name": "box", "clients": ["boxclient"]},
                  POOL: {"name": "app", "clients": ["appclient"]}},
        "issuers": {OUTSIDE_ISSUER: {"keys": [OUTSIDE.jwk()]}},
        "api_keys": ["template-key"],
    },
}
FUNCTIONS = {"region": "eu-west-1", "account_id": "123456789012", "functions": {"echo": {}, "auth": {}}}
NOW = 1_000_000.0


def policy(effect: str, resource: str = f"{ARN}*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                                                    "Resource": resource}]}


def authorizer_function(event: dict[str, Any]) -> Any:
    """Answers by the token (TOKEN) or the X-User header (REQUEST): allow…, deny…, error…, boom…"""
    said = event.get("authorizationToken") or (event.get("headers") or {}).get("X-User") or \
        (event.get("headers") or {}).get("x-user") or ""
    if said.startswith("boom"):
        return InvokeResult(200, "error", "r", b'{"errorMessage": "Unauthorized"}')
    if said.startswith("error"):
        return InvokeResult(200, "error", "r", b'{"errorMessage": "bug"}')
    if "routeArn" in event:  # HttpApi simple response
        return {"isAuthorized": said.startswith("allow"), "context": {"user": said}}
    return {"principalId": said, "policyDocument": policy("Allow" if said.startswith("allow") else "Deny"),
            "context": {"user": said, "admin": True, "level": 3}}


@pytest.fixture
def manager() -> FakeManager:
    return FakeManager({"echo": lambda event: {"statusCode": 200, "body": json.dumps(event["requestContext"])},
                        "auth": authorizer_function})


@pytest.fixture
def client(tmp_path: Path, manager: FakeManager) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    app = create_app(settings, routes_source=StaticConfigSource(build_config(ROUTING, functions_config(FUNCTIONS))), manager=manager,
                     secrets=SECRETS, clock=lambda: NOW, signing_key=KEY)
    return testing.TestClient(app)


def sign_in(client: testing.TestClient, client_id: str = "appclient") -> str:
    answer = client.simulate_post("/_esb/cognito-idp", json={
        "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
        "AuthParameters": {"USERNAME": SECRETS.username, "PASSWORD": SECRETS.password}},
        headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"})
    return answer.json["AuthenticationResult"]["IdToken"]


def outside_token(**claims: Any) -> str:
    body = {"iss": OUTSIDE_ISSUER, "aud": "app", "sub": "u1", "exp": NOW + 60, **claims}
    return jwt.encode(body, OUTSIDE.private_key, algorithm="RS256", headers={"kid": OUTSIDE.kid})


def get(client: testing.TestClient, path: str, **headers: str) -> testing.Result:
    return client.simulate_get(path, headers=headers)


def test_a_route_without_authorizer_is_open(client: testing.TestClient) -> None:
    answer = get(client, "/open")
    assert answer.status_code == 200 and "authorizer" not in answer.json


def test_cognito_authorizer_takes_only_its_pools_tokens(client: testing.TestClient) -> None:
    assert get(client, "/cognito").status_code == 401
    assert get(client, "/cognito", Authorization="garbage").json == {"message": "Unauthorized"}
    answer = get(client, "/cognito", Authorization=sign_in(client))  # REST takes the bare token
    assert answer.status_code == 200
    claims = answer.json["authorizer"]["claims"]
    assert claims["cognito:username"] == SECRETS.username and claims["aud"] == "appclient"
    assert claims["iss"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
    assert get(client, "/cognito", Authorization=f"Bearer {sign_in(client, 'boxclient')}").status_code == 401


def test_jwt_authorizer_checks_issuer_audience_expiry_and_scopes(client: testing.TestClient) -> None:
    ok = get(client, "/jwt", Authorization=f"Bearer {outside_token()}")
    assert ok.status_code == 200 and ok.json["authorizer"]["jwt"]["claims"]["sub"] == "u1"
    assert get(client, "/jwt").status_code == 401
    assert get(client, "/jwt", Authorization=f"Bearer {outside_token(aud='other')}").status_code == 401
    assert get(client, "/jwt", Authorization=f"Bearer {outside_token(exp=NOW - 1)}").status_code == 401
    assert get(client, "/jwt", Authorization=f"Bearer {sign_in(client)}").status_code == 401  # another issuer
    assert get(client, "/scoped", Authorization=f"Bearer {outside_token()}").status_code == 403
    scoped = get(client, "/scoped", Authorization=f"Bearer {outside_token(scope='items/read items/write')}")
    assert scoped.status_code == 200 and scoped.json["authorizer"]["jwt"]["scopes"] == ["items/read"]


def test_token_authorizer_allows_denies_and_passes_its_context(client: testing.TestClient,
                                                               manager: FakeManager) -> None:
    ok = get(client, "/token", Authorization="allow-ada")
    assert ok.status_code == 200
    assert ok.json["authorizer"] == {"user": "allow-ada", "admin": "true", "level": "3", "principalId": "allow-ada",
                                     "integrationLatency": 0}
    event = next(c.event for c in manager.calls if c.function == "auth")
    assert event == {"type": "TOKEN", "authorizationToken": "allow-ada",
                     "methodArn": f"{ARN}{_api('Rest')}/Prod/GET/token"}
    denied = get(client, "/token", Authorization="deny-bob")
    assert denied.status_code == 403
    assert denied.json == {"Message": "User is not authorized to access this resource with an explicit deny"}
    assert get(client, "/token").status_code == 401
    assert get(client, "/token", Authorization="nobody").status_code == 401  # ValidationExpression
    assert get(client, "/token", Authorization="boom").status_code == 401
    assert get(client, "/token", Authorization="error").status_code == 500


def test_token_authorizer_answers_are_cached_for_their_ttl(client: testing.TestClient, manager: FakeManager) -> None:
    for _ in range(3):
        assert get(client, "/token", Authorization="allow-cached").status_code == 200
    assert sum(1 for c in manager.calls if c.function == "auth") == 1


def test_request_authorizer_uses_identity_sources_and_no_cache_at_ttl_0(client: testing.TestClient,
                                                                        manager: FakeManager) -> None:
    assert get(client, "/request").status_code == 401  # the identity source is missing: no call at all
    assert not [c for c in manager.calls if c.function == "auth"]
    assert get(client, "/request", **{"X-User": "allow-1"}).status_code == 200
    assert get(client, "/request", **{"X-User": "allow-1"}).status_code == 200
    calls = [c.event for c in manager.calls if c.function == "auth"]
    assert len(calls) == 2 and calls[0]["type"] == "REQUEST" and calls[0]["methodArn"].endswith("/Prod/GET/request")
    assert get(client, "/request", **{"X-User": "deny-2"}).status_code == 403


def test_http_api_simple_responses(client: testing.TestClient, manager: FakeManager) -> None:
    ok = get(client, "/simple", **{"X-User": "allow-3"})
    assert ok.status_code == 200 and ok.json["authorizer"] == {"lambda": {"user": "allow-3"}}
    event = next(c.event for c in manager.calls if c.function == "auth")
    assert event["version"] == "2.0" and event["identitySource"] == ["allow-3"] and event["routeKey"] == "GET /simple"
    denied = get(client, "/simple", **{"X-User": "deny-3"})
    assert denied.status_code == 403 and denied.json == {"message": "Forbidden"}


def test_api_key_required(client: testing.TestClient) -> None:
    assert get(client, "/keyed").status_code == 403
    assert get(client, "/keyed", **{"x-api-key": "wrong"}).json == {"message": "Forbidden"}
    assert get(client, "/keyed", **{"x-api-key": "template-key"}).status_code == 200
    assert get(client, "/keyed", **{"x-api-key": SECRETS.api_key}).status_code == 200


def test_require_token_on_every_route_guards_open_routes(tmp_path: Path, manager: FakeManager) -> None:
    routing = {**ROUTING, "auth": {**ROUTING["auth"], "require_token_on_every_route": True}}
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    client = testing.TestClient(create_app(
        settings, routes_source=StaticConfigSource(build_config(routing, functions_config(FUNCTIONS))), manager=manager,
        secrets=SECRETS, clock=lambda: NOW, signing_key=KEY))
    assert get(client, "/open").status_code == 401
    token = client.simulate_post("/user/auth/v1", headers={"x-api-key": SECRETS.api_key}, json={
        "AuthParameters": {"USERNAME": SECRETS.username, "PASSWORD": SECRETS.password}}).json
    answer = get(client, "/open", Authorization=f"Bearer {token['AuthenticationResult']['IdToken']}")
    assert answer.status_code == 200
    # The seed's functions read the user name right under authorizer.
    assert answer.json["authorizer"]["cognito:username"] == SECRETS.username


@pytest.mark.parametrize(("resource", "effect"), [
    (f"{ARN}abc/Prod/GET/token", "Allow"), (f"{ARN}abc/Prod/*", "Allow"), (f"{ARN}abc/Prod/POST/*", "None"),
    (f"{ARN}abc/*/GET/tok?n", "Allow"), ([f"{ARN}x/*", f"{ARN}abc/Prod/GET/*"], "Allow"),
])
def test_policy_resources_match_with_wildcards(resource: Any, effect: str) -> None:
    document = {"Statement": {"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": resource}}
    assert policy_effect(document, f"{ARN}abc/Prod/GET/token") == effect


def test_explicit_deny_wins_over_allow() -> None:
    document = {"Statement": [policy("Allow")["Statement"][0], policy("Deny", f"{ARN}*/GET/*")["Statement"][0]]}
    assert policy_effect(document, f"{ARN}abc/Prod/GET/token") == "Deny"
    assert policy_effect(document, f"{ARN}abc/Prod/PUT/token") == "Allow"


def _api(name: str) -> str:
    from esb_runtime.gateway.proxy_events import api_id_for
    return api_id_for(name)
