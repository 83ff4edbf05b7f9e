"""The box's Cognito issues each app client's tokens with its IdTokenValidity/AccessTokenValidity/RefreshTokenValidity."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from esb_runtime.gateway.auth_config import parse_auth
from esb_runtime.gateway.refresh_tokens import RefreshTokens
from esb_runtime.gateway.user_pools import CognitoError, UserPools, authentication_result
from esb_runtime.secrets import BoxSecrets
from esb_runtime.signing_key import SigningKey

SECRETS = BoxSecrets.generate()
KEY = SigningKey.generate()
AUTH = parse_auth({
    "default_pool": "eu-west-1_esbBox001",
    "pools": {"eu-west-1_esbBox001": {"name": "box", "clients": ["boxclient"]},
              "eu-west-1_Template1": {"name": "app", "clients": ["short", "plain"],
                                      "validity": {"short": {"id": 900, "access": 300, "refresh": 3600}}}},
}, "eu-west-1")
POOL = AUTH.pools["eu-west-1_Template1"]


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _pools(tmp_path: Path, clock: Clock) -> UserPools:
    return UserPools(KEY, SECRETS, refresh=RefreshTokens(tmp_path, clock=clock), lifetime_s=3600, clock=clock)


def test_a_clients_lifetimes_shape_its_tokens_and_refresh_token(tmp_path: Path) -> None:
    clock = Clock()
    pools = _pools(tmp_path, clock)
    tokens = pools.sign_in(AUTH, "eu-west-1", POOL, "short", SECRETS.username, SECRETS.password)
    assert _claims(tokens.id_token)["exp"] == clock.now + 900
    assert _claims(tokens.access_token)["exp"] == clock.now + 300
    assert authentication_result(tokens)["AuthenticationResult"]["ExpiresIn"] == 300  # the access token's
    clock.now += 3599
    renewed = pools.refresh(AUTH, "eu-west-1", POOL, "short", str(tokens.refresh_token))
    assert _claims(renewed.id_token)["exp"] == clock.now + 900 and renewed.expires_in == 300
    clock.now += 1  # RefreshTokenValidity is over
    with pytest.raises(CognitoError) as refused:
        pools.refresh(AUTH, "eu-west-1", POOL, "short", str(tokens.refresh_token))
    assert refused.value.kind == "NotAuthorizedException"


def test_a_client_without_lifetimes_gets_the_box_defaults(tmp_path: Path) -> None:
    clock = Clock()
    pools = _pools(tmp_path, clock)
    tokens = pools.sign_in(AUTH, "eu-west-1", POOL, "plain", SECRETS.username, SECRETS.password)
    assert _claims(tokens.id_token)["exp"] == _claims(tokens.access_token)["exp"] == clock.now + 3600
    assert tokens.expires_in == 3600
    clock.now += 29 * 86400  # the box's refresh default is Cognito's 30 days
    assert pools.refresh(AUTH, "eu-west-1", POOL, "plain", str(tokens.refresh_token)).id_token
