"""The box's Cognito: POST /user/auth/v1 error matrix, InitiateAuth at /_esb/cognito-idp, the JWKS, token checks."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.auth_config import PoolUser, parse_auth
from esb_runtime.gateway.config_source import GatewayConfig, StaticConfigSource
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.gateway.jwt_verify import KeyRing, bearer_token, verify
from esb_runtime.gateway.refresh_tokens import RefreshTokens
from esb_runtime.gateway.user_pools import UserPools, derived_password, issuer_for
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from esb_runtime.signing_key import SigningKey, ensure

SECRETS = BoxSecrets.generate()
KEY = SigningKey.generate()
AUTH = parse_auth({
    "default_pool": "eu-west-1_esbBox001", "login_pool": "eu-west-1_esbBox001",
    "pools": {"eu-west-1_esbBox001": {"name": "box", "clients": ["boxclient"]},
              "eu-west-1_Template1": {"name": "app", "clients": ["appclient"]}},
    "users": [{"username": "alice", "pools": ["eu-west-1_Template1"], "attributes": {"email": "a@example.com"},
               "groups": ["admins"]}],
}, "eu-west-1")
CONFIG = GatewayConfig(region="eu-west-1", account_id="123456789012", auth=AUTH)
NOW = 1_000_000.0


@pytest.fixture
def client(tmp_path: Path) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None,
                               token_lifetime_s=120)
    app = create_app(settings, routes_source=StaticConfigSource(CONFIG), manager=FakeManager(),
                     secrets=SECRETS, clock=lambda: NOW, signing_key=KEY)
    return testing.TestClient(app)


def login(client: testing.TestClient, body: object, key: str | None = SECRETS.api_key) -> testing.Result:
    headers = {"x-api-key": key} if key is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.simulate_post("/user/auth/v1", headers=headers, body=data)


def initiate_auth(client: testing.TestClient, body: dict, target: str = "InitiateAuth") -> testing.Result:
    return client.simulate_post("/_esb/cognito-idp/", body=json.dumps(body), headers={
        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}",
        "Content-Type": "application/x-amz-json-1.1"})


GOOD = {"AuthParameters": {"USERNAME": SECRETS.username, "PASSWORD": SECRETS.password}}


def test_valid_login_issues_rs256_id_token_of_the_login_pool(client: testing.TestClient) -> None:
    result = login(client, GOOD)
    assert result.status_code == 200
    token = result.json["AuthenticationResult"]["IdToken"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KEY.kid, "typ": "JWT"}
    jwks = client.simulate_get("/_esb/cognito-idp/eu-west-1_esbBox001/.well-known/jwks.json").json
    public = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="boxclient",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["cognito:username"] == SECRETS.username and claims["token_use"] == "id"
    assert claims["iss"] == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_esbBox001" and claims["sub"]
    assert claims["exp"] - claims["iat"] == 120 and claims["iat"] == NOW


@pytest.mark.parametrize(("key", "body", "status", "authorized_header"), [
    (None, GOOD, 401, False),
    ("wrong-key", GOOD, 401, False),
    (SECRETS.api_key, {"AuthParameters": {"USERNAME": SECRETS.username, "PASSWORD": "nope"}}, 401, True),
    (SECRETS.api_key, {"AuthParameters": {"USERNAME": "someone", "PASSWORD": SECRETS.password}}, 401, True),
    (SECRETS.api_key, b"{not json", 400, False),
    (SECRETS.api_key, {"AuthParameters": {"USERNAME": "x"}}, 400, False),
    (SECRETS.api_key, {"Other": 1}, 400, False),
    (SECRETS.api_key, [1, 2], 400, False),
])
def test_error_matrix(client: testing.TestClient, key: str | None, body: object, status: int,
                      authorized_header: bool) -> None:
    result = login(client, body, key)
    assert result.status_code == status
    assert "message" in result.json
    assert (result.headers.get("PADMA_USER_AUTHORIZED") == "true") is authorized_header


def test_initiate_auth_signs_a_generator_user_into_its_pool(client: testing.TestClient) -> None:
    password = derived_password(SECRETS, "alice")
    ok = initiate_auth(client, {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "appclient",
                                "AuthParameters": {"USERNAME": "alice", "PASSWORD": password}})
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/x-amz-json-1.1"
    result = ok.json["AuthenticationResult"]
    claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
    assert claims["cognito:username"] == "alice" and claims["email"] == "a@example.com"
    assert claims["cognito:groups"] == ["admins"] and claims["aud"] == "appclient"
    access = jwt.decode(result["AccessToken"], options={"verify_signature": False})
    assert access["token_use"] == "access" and access["client_id"] == "appclient" and access["username"] == "alice"
    # alice is not a user of the box pool: the same answer as a wrong password.
    other = initiate_auth(client, {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "boxclient",
                                   "AuthParameters": {"USERNAME": "alice", "PASSWORD": password}})
    assert other.status_code == 400 and other.json["__type"] == "NotAuthorizedException"


@pytest.mark.parametrize(("body", "target", "kind"), [
    ({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "nope", "AuthParameters": {"USERNAME": "a", "PASSWORD": "b"}},
     "InitiateAuth", "ResourceNotFoundException"),
    ({"AuthFlow": "USER_SRP_AUTH", "ClientId": "boxclient"}, "InitiateAuth", "InvalidParameterException"),
    ({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "boxclient", "AuthParameters": {"USERNAME": "a"}},
     "InitiateAuth", "InvalidParameterException"),
    ({}, "SignUp", "UnknownOperationException"),
])
def test_initiate_auth_errors_are_cognito_shaped(client: testing.TestClient, body: dict, target: str,
                                                 kind: str) -> None:
    result = initiate_auth(client, body, target)
    assert result.status_code == 400 and result.json["__type"] == kind and result.json["message"]


def test_jwks_of_an_unknown_pool_is_404(client: testing.TestClient) -> None:
    assert client.simulate_get("/_esb/cognito-idp/eu-west-1_nope/.well-known/jwks.json").status_code == 404


def test_token_checks(tmp_path: Path) -> None:
    pools = UserPools(KEY, SECRETS, refresh=RefreshTokens(tmp_path), lifetime_s=60, clock=lambda: 1000.0)
    box = AUTH.pools["eu-west-1_esbBox001"]
    token = pools.sign_in(AUTH, "eu-west-1", box, "boxclient", SECRETS.username, SECRETS.password).id_token
    ring = KeyRing(KEY, "eu-west-1", AUTH)
    issuer = issuer_for("eu-west-1", box.id)
    assert verify(token, ring, issuers={issuer}, now=1000.0)["cognito:username"] == SECRETS.username
    assert verify(token, ring, issuers={issuer}, now=1000.0, audience=["boxclient"]) is not None
    assert verify(token, ring, issuers={issuer}, now=1000.0, audience=["other"]) is None
    assert verify(token, ring, issuers={issuer_for("eu-west-1", "eu-west-1_Template1")}, now=1000.0) is None
    assert verify(token, ring, issuers={issuer}, now=1061.0) is None  # expired
    forged = jwt.encode({"iss": issuer, "exp": 2000}, SigningKey.generate().private_key, algorithm="RS256",
                        headers={"kid": KEY.kid})
    assert verify(forged, ring, issuers={issuer}, now=1000.0) is None
    unsigned = jwt.encode({"iss": issuer, "exp": 2000}, None, algorithm="none")
    assert verify(unsigned, ring, issuers={issuer}, now=1000.0) is None
    hs256 = jwt.encode({"iss": issuer, "exp": 2000}, "a-shared-secret-long-enough-for-hs256!", algorithm="HS256")
    assert verify(hs256, ring, issuers={issuer}, now=1000.0) is None
    assert bearer_token(f"Bearer {token}") == token == bearer_token(token) == bearer_token(f"bearer  {token}")
    assert bearer_token("") is None and bearer_token("Bearer ") is None


def test_users_of_generator_yml_get_only_their_pools(tmp_path: Path) -> None:
    pools = UserPools(KEY, SECRETS, refresh=RefreshTokens(tmp_path), clock=lambda: 1000.0)
    app_pool = AUTH.pools["eu-west-1_Template1"]
    password = derived_password(SECRETS, "alice")
    assert pools.sign_in(AUTH, "eu-west-1", app_pool, "appclient", "alice", password).id_token
    everywhere = parse_auth({"users": [{"username": "bob"}]}, "eu-west-1")
    assert everywhere.users == (PoolUser("bob"),)
    default = everywhere.pools[everywhere.default_pool]
    assert pools.sign_in(everywhere, "eu-west-1", default, default.clients[0], "bob", derived_password(SECRETS, "bob"))
    assert derived_password(SECRETS, "bob") != derived_password(BoxSecrets.generate(), "bob")


def test_signing_key_is_kept_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "key.pem"
    first = ensure(path)
    assert path.stat().st_mode & 0o777 == 0o600 and (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    assert ensure(path).kid == first.kid
    assert "PRIVATE" not in repr(first) and first.kid in repr(first)


def _refresh(client: testing.TestClient, token: str, client_id: str = "appclient") -> testing.Result:
    return initiate_auth(client, {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client_id,
                                  "AuthParameters": {"REFRESH_TOKEN": token}})


def test_refresh_token_auth_gives_new_tokens_to_its_client_only(client: testing.TestClient) -> None:
    signed_in = initiate_auth(client, {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "appclient", "AuthParameters": {
        "USERNAME": "alice", "PASSWORD": derived_password(SECRETS, "alice")}}).json["AuthenticationResult"]
    refresh = signed_in["RefreshToken"]
    renewed = _refresh(client, refresh)
    assert renewed.status_code == 200, renewed.text
    result = renewed.json["AuthenticationResult"]
    assert "RefreshToken" not in result  # as Cognito: a refresh keeps the refresh token it was given
    claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
    assert claims["cognito:username"] == "alice" and claims["aud"] == "appclient" and claims["email"] == "a@example.com"
    assert _refresh(client, refresh).status_code == 200  # reusable until it expires
    for token, client_id in ((refresh, "boxclient"), (refresh + "x", "appclient"), ("", "appclient")):
        refused = _refresh(client, token, client_id)
        assert refused.status_code == 400
        assert refused.json["__type"] in ("NotAuthorizedException", "InvalidParameterException")
    assert _refresh(client, refresh, "boxclient").json == {"__type": "NotAuthorizedException",
                                                           "message": "Invalid Refresh Token"}
