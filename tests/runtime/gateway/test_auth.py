"""POST /user/auth/v1 error matrix and the IdToken it issues."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from falcon import testing

from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.auth import Authenticator
from esb_runtime.gateway.config_source import GatewayConfig, StaticConfigSource
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings

SECRETS = BoxSecrets.generate()


@pytest.fixture
def client(tmp_path: Path) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None,
                               token_lifetime_s=120)
    app = create_app(settings, routes_source=StaticConfigSource(GatewayConfig()), manager=FakeManager(),
                     secrets=SECRETS, clock=lambda: 1_000_000.0)
    return testing.TestClient(app)


def login(client: testing.TestClient, body: object, key: str | None = SECRETS.api_key) -> testing.Result:
    headers = {"x-api-key": key} if key is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.simulate_post("/user/auth/v1", headers=headers, body=data)


GOOD = {"AuthParameters": {"USERNAME": SECRETS.username, "PASSWORD": SECRETS.password}}


def test_valid_login_issues_hs256_id_token(client: testing.TestClient) -> None:
    result = login(client, GOOD)
    assert result.status_code == 200
    token = result.json["AuthenticationResult"]["IdToken"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRETS.jwt_secret, algorithms=["HS256"], audience="esb",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["cognito:username"] == SECRETS.username
    assert claims["iss"] == "esb" and claims["sub"]
    assert claims["exp"] - claims["iat"] == 120 and claims["iat"] == 1_000_000


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


def test_bearer_checks() -> None:
    now = [1000.0]
    auth = Authenticator(SECRETS, lifetime_s=60, clock=lambda: now[0])
    token = auth.issue("esb-user")
    assert auth.claims_from_bearer(f"Bearer {token}")["cognito:username"] == "esb-user"
    assert auth.claims_from_bearer(f"bearer {token}") is not None
    assert auth.claims_from_bearer(token) is None
    assert auth.claims_from_bearer(None) is None
    forged = jwt.encode({"sub": "x", "iat": 1000, "exp": 2000, "iss": "esb", "aud": "esb"}, "another-secret-that-is-long-enough-32b",
                        algorithm="HS256")
    assert auth.claims_from_bearer(f"Bearer {forged}") is None
    unsigned = jwt.encode({"sub": "x", "iat": 1000, "exp": 2000, "iss": "esb", "aud": "esb"}, None,
                          algorithm="none")
    assert auth.claims_from_bearer(f"Bearer {unsigned}") is None
    now[0] = 1061.0
    assert auth.claims_from_bearer(f"Bearer {token}") is None  # expired
