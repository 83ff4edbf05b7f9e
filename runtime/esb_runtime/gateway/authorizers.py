"""The route's authorizer decides, as API Gateway's does: Cognito, JWT, Lambda (TOKEN/REQUEST), then the API key."""

from __future__ import annotations

import hmac
import time
from typing import Any, Callable, Mapping

from esb_runtime.gateway.auth_config import BOX_AUTHORIZER, IAM_AUTHORIZER, AuthorizerConfig
from esb_runtime.gateway.config_source import GatewayConfig
from esb_runtime.gateway.proxy_events import EventContext, string_claims
from esb_runtime.gateway.iam_authorizer import IamAuthorizer
from esb_runtime.gateway.jwt_verify import KeyRing, bearer_token, verify
from esb_runtime.gateway.lambda_authorizer import (
    AuthorizerCache,
    LambdaAuthorizer,
    Verdict,
    configuration_error,
    forbidden,
    identity_values,
    unauthorized,
)
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.request import IncomingRequest
from esb_runtime.gateway.sigv4 import Credentials
from esb_runtime.gateway.usage_plans import UsageMeter
from esb_runtime.gateway.user_pools import issuer_for
from esb_runtime.signing_key import TokenKey

OPEN = Verdict(True)
_JWT_IDENTITY = ("$request.header.Authorization",)


def _key_matches(given: str | None, keys: tuple[str, ...]) -> bool:
    if not given:
        return False
    # Every key is compared, so the time taken does not tell how many keys there are or which one matched.
    return sum(hmac.compare_digest(given.encode(), key.encode()) for key in keys) > 0


def authorizer_of(config: GatewayConfig, api: str, name: str) -> AuthorizerConfig | None:
    if name == BOX_AUTHORIZER:
        return config.auth.box_authorizer
    if name == IAM_AUTHORIZER:
        return AuthorizerConfig(IAM_AUTHORIZER, "iam")
    api_config = config.apis.get(api)
    return api_config.authorizers.get(name) if api_config else None


class Authorizers:
    """One decision per request: allowed (and what the function sees in requestContext.authorizer) or the refusal."""

    def __init__(self, key: TokenKey, manager: ManagerClient, *, box_api_key: str, credentials: Credentials,
                 timeout_s: float, clock: Callable[[], float] = time.time, cache: AuthorizerCache | None = None,
                 meter: UsageMeter | None = None) -> None:
        self._key = key
        self._box_api_key = box_api_key
        self._clock = clock
        self._lambda = LambdaAuthorizer(manager, cache or AuthorizerCache(), timeout_s=timeout_s)
        self._iam = IamAuthorizer(credentials, clock)
        self._meter = meter or UsageMeter(clock)

    def check(self, config: GatewayConfig, request: IncomingRequest, ctx: EventContext, *, trace: str) -> Verdict:
        route = ctx.route
        name = route.authorizer or (BOX_AUTHORIZER if route.auth or config.auth.require_token else "")
        verdict = OPEN
        if name:
            authorizer = authorizer_of(config, route.api, name)
            if authorizer is None:  # routing.yml names an authorizer its API does not have
                return configuration_error()
            verdict = self._decide(config, authorizer, request, ctx, trace)
        if verdict.allowed and route.api_key:
            keys = (self._box_api_key, *config.auth.api_keys)
            given = request.header("x-api-key")
            if given is None or not _key_matches(given, keys):
                return forbidden(rest=False)  # API Gateway's {"message": "Forbidden"}, REST and HTTP alike
            api = config.apis.get(route.api)
            if api is not None:
                box_key = _key_matches(given, (self._box_api_key,))
                return self._meter.admit_key(api.usage_plan, api.key_plans, given, box_key=box_key) or verdict
        return verdict

    def check_body(self, verdict: Verdict, request: IncomingRequest, ctx: EventContext) -> Verdict:
        """What needs the body (AWS_IAM's signature covers it), once an allowed request's body is read."""
        return self._iam.check_signature(verdict, request, rest=ctx.route.event != "HttpApi")

    def _decide(self, config: GatewayConfig, authorizer: AuthorizerConfig, request: IncomingRequest,
                ctx: EventContext, trace: str) -> Verdict:
        if authorizer.type in ("token", "request"):
            return self._lambda.decide(authorizer, request, ctx, region=config.region, trace=trace)
        if authorizer.type == "iam":
            return self._iam.check_headers(request, rest=ctx.route.event != "HttpApi",
                                           payload=ctx.route.payload_version, account_id=ctx.account_id)
        ring = KeyRing(self._key, config.region, config.auth)
        if authorizer.type == "cognito":
            token = bearer_token(request.header(authorizer.header))
            issuers = {issuer_for(config.region, pool) for pool in authorizer.pools}
            claims = verify(token, ring, issuers=issuers, now=self._clock()) if token else None
            if claims is None or claims.get("token_use") not in ("id", "access"):
                return unauthorized()
            return Verdict(True, authorizer=_claims_view(ctx, claims, None, box=authorizer.name == BOX_AUTHORIZER))
        found = identity_values(authorizer.identity or _JWT_IDENTITY, request, ctx.stage_variables or {})
        token = bearer_token(found[0]) if found else None
        claims = verify(token, ring, issuers={authorizer.issuer}, audience=authorizer.audience,
                        now=self._clock()) if token else None
        if claims is None:
            return unauthorized()
        granted = str(claims.get("scope") or "").split()
        if ctx.route.scopes and not set(ctx.route.scopes) & set(granted):
            return forbidden(rest=False)
        return Verdict(True, authorizer=_claims_view(ctx, claims, list(ctx.route.scopes) or None, box=False))


def _claims_view(ctx: EventContext, claims: Mapping[str, Any], scopes: list[str] | None, *, box: bool
                 ) -> dict[str, Any]:
    shown = string_claims(claims)
    if ctx.route.payload_version == "2.0":
        return {"jwt": {"claims": shown, "scopes": scopes}}
    view: dict[str, Any] = {"claims": shown}
    if scopes is not None:
        view["scopes"] = scopes
    if box and "cognito:username" in shown:
        # The seed's functions read the user name directly under authorizer (require_token_on_every_route).
        view["cognito:username"] = shown["cognito:username"]
    return view
