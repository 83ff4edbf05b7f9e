"""The seed's login, POST /user/auth/v1: InitiateAuth on the box's login pool behind the box's x-api-key."""

from __future__ import annotations

import hmac
import json

from esb_runtime.gateway.auth_config import AuthSettings
from esb_runtime.gateway.responses import ProxyResponse, json_error
from esb_runtime.gateway.user_pools import CognitoError, UserPools, authentication_result
from esb_runtime.secrets import BoxSecrets

PATH = "/user/auth/v1"
_JSON = [("Content-Type", "application/json")]


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class LoginAlias:
    def __init__(self, secrets: BoxSecrets, pools: UserPools) -> None:
        self._secrets = secrets
        self._pools = pools

    def login(self, auth: AuthSettings, region: str, api_key: str | None, body: bytes) -> ProxyResponse:
        """The key first (401), then the body's shape (400), then credentials (401 + PADMA_USER_AUTHORIZED)."""
        if not _same(api_key, self._secrets.api_key):
            return json_error(401, "Unauthorized")
        params = _auth_parameters(body)
        if params is None:
            return json_error(400, "Bad Request: expected {\"AuthParameters\": {\"USERNAME\", \"PASSWORD\"}}")
        pool = auth.pools[auth.login_pool]
        client_id = pool.clients[0] if pool.clients else pool.id
        try:
            tokens = self._pools.sign_in(auth, region, pool, client_id, *params)
        except CognitoError:
            return json_error(401, "Incorrect username or password.", [("PADMA_USER_AUTHORIZED", "true")])
        return ProxyResponse(200, list(_JSON), json.dumps(authentication_result(tokens)).encode())


def _auth_parameters(body: bytes) -> tuple[str, str] | None:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    params = data.get("AuthParameters") if isinstance(data, dict) else None
    if not isinstance(params, dict):
        return None
    username, password = params.get("USERNAME"), params.get("PASSWORD")
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    return username, password
