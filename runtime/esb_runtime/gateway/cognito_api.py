"""The cognito-idp endpoint for boto3 (`endpoint_url=<gateway>/_esb/cognito-idp`) and each pool's JWKS."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from esb_runtime.gateway.config_source import ConfigSource
from esb_runtime.gateway.exchange import read_body
from esb_runtime.gateway.falcon_io import send
from esb_runtime.gateway.responses import ProxyResponse
from esb_runtime.gateway.throttle import FailureThrottle
from esb_runtime.gateway.user_pools import CognitoError, UserPools, authentication_result, pool_of_client

if TYPE_CHECKING:
    import falcon

PATH = "/_esb/cognito-idp"
JWKS_PATH = PATH + "/{pool_id}/.well-known/jwks.json"
_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_AMZ_JSON = [("Content-Type", "application/x-amz-json-1.1")]
_BODY_LIMIT = 64 * 1024
_REFRESH_FLOWS = ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")  # Cognito takes both names


def cognito_error(error: CognitoError, status: int = 400) -> ProxyResponse:
    body = json.dumps({"__type": error.kind, "message": error.message}).encode()
    return ProxyResponse(status, [*_AMZ_JSON, ("x-amzn-ErrorType", error.kind)], body)


def _parameters(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CognitoError("SerializationException", "the request body is not JSON") from exc
    if not isinstance(data, dict):
        raise CognitoError("SerializationException", "the request body must be a JSON object")
    return data


class CognitoIdpResource:
    """Answers the operations a client needs to sign in: InitiateAuth with USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH."""

    def __init__(self, config: ConfigSource, pools: UserPools, throttle: FailureThrottle) -> None:
        self._config = config
        self._pools = pools
        self._throttle = throttle

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        source = req.remote_addr or "unknown"
        if self._throttle.retry_after(source) is not None:
            send(resp, cognito_error(CognitoError("TooManyRequestsException", "Too many requests"), 429))
            return
        body = read_body(req, _BODY_LIMIT)
        if body is None:
            send(resp, cognito_error(CognitoError("InvalidParameterException", "request too large"), 413))
            return
        target = req.get_header("X-Amz-Target") or ""
        try:
            if target != _TARGET_PREFIX + "InitiateAuth":
                raise CognitoError("UnknownOperationException", f"the box's user pools do not answer {target or '?'}")
            answer = self._initiate_auth(_parameters(body))
        except CognitoError as exc:
            if exc.kind == "NotAuthorizedException":
                self._throttle.failed(source)
            send(resp, cognito_error(exc))
            return
        self._throttle.succeeded(source)
        send(resp, ProxyResponse(200, list(_AMZ_JSON), json.dumps(answer).encode()))

    def _initiate_auth(self, params: dict[str, Any]) -> dict[str, Any]:
        flow = params.get("AuthFlow")
        if flow not in ("USER_PASSWORD_AUTH", *_REFRESH_FLOWS):
            raise CognitoError("InvalidParameterException",
                               "only AuthFlow USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH are supported here")
        config = self._config.current()
        pool = pool_of_client(config.auth, str(params.get("ClientId") or ""))
        auth = params.get("AuthParameters") if isinstance(params.get("AuthParameters"), dict) else {}
        if flow in _REFRESH_FLOWS:
            token = auth.get("REFRESH_TOKEN")
            if not isinstance(token, str) or not token:
                raise CognitoError("InvalidParameterException", "AuthParameters needs REFRESH_TOKEN")
            return authentication_result(self._pools.refresh(config.auth, config.region, pool,
                                                             str(params["ClientId"]), token))
        username, password = auth.get("USERNAME"), auth.get("PASSWORD")
        if not isinstance(username, str) or not isinstance(password, str):
            raise CognitoError("InvalidParameterException", "AuthParameters needs USERNAME and PASSWORD")
        tokens = self._pools.sign_in(config.auth, config.region, pool, str(params["ClientId"]), username, password)
        return authentication_result(tokens)


class JwksResource:
    """GET <pool>/.well-known/jwks.json: the public key the pool's tokens are signed with."""

    def __init__(self, config: ConfigSource, pools: UserPools) -> None:
        self._config = config
        self._pools = pools

    def on_get(self, req: falcon.Request, resp: falcon.Response, pool_id: str) -> None:
        if pool_id not in self._config.current().auth.pools:
            send(resp, ProxyResponse(404, [("Content-Type", "application/json")],
                                     json.dumps({"message": f"no user pool {pool_id}"}).encode()))
            return
        send(resp, ProxyResponse(200, [("Content-Type", "application/json")],
                                 json.dumps({"keys": [self._pools.key.jwk()]}).encode()))
