"""The seed's login, POST /user/auth/v1: InitiateAuth on the box's login pool behind the box's x-api-key."""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING

from esb_runtime.gateway.auth_config import AuthSettings
from esb_runtime.gateway.config_source import ConfigSource
from esb_runtime.gateway.exchange import read_body
from esb_runtime.gateway.falcon_io import send
from esb_runtime.gateway.responses import ProxyResponse, json_error
from esb_runtime.gateway.throttle import FailureThrottle
from esb_runtime.gateway.user_pools import CognitoError, UserPools, authentication_result
from esb_runtime.secrets import BoxSecrets

if TYPE_CHECKING:
    import falcon

PATH = "/user/auth/v1"
_BODY_LIMIT = 64 * 1024
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


class LoginResource:
    def __init__(self, config: ConfigSource, login: LoginAlias, throttle: FailureThrottle) -> None:
        self._config = config
        self._login = login
        self._throttle = throttle

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        source = req.remote_addr or "unknown"
        wait_s = self._throttle.retry_after(source)
        if wait_s is not None:  # checked before anything else, so a throttled guess learns nothing
            send(resp, json_error(429, "Too Many Requests", [("Retry-After", str(wait_s))]))
            return
        body = read_body(req, _BODY_LIMIT)
        if body is None:
            send(resp, json_error(413, "Request Entity Too Large"))
            return
        config = self._config.current()
        answer = self._login.login(config.auth, config.region, req.get_header("x-api-key"), body)
        if answer.status == 401:
            self._throttle.failed(source)
        elif answer.status == 200:
            self._throttle.succeeded(source)
        send(resp, answer)
