"""Wires the gateway from settings and injected collaborators: the data path, and the box's own APIs (Falcon)."""

from __future__ import annotations

import time
from typing import Callable

from esb_runtime.gateway.access_log import LogSink, guarded, null_sink
from esb_runtime.gateway.auth import PATH as LOGIN_PATH, LoginAlias, LoginResource
from esb_runtime.gateway.authorizers import Authorizers
from esb_runtime.gateway.cognito_api import JWKS_PATH, PATH as COGNITO_PATH, CognitoIdpResource, JwksResource
from esb_runtime.gateway.config_source import ConfigSource
from esb_runtime.gateway.dispatch import HEALTH_PATH, Gateway, WsgiApp
from esb_runtime.gateway.function_urls import ConfigUrlSource, FunctionUrls, UrlSource
from esb_runtime.gateway.health import HealthCheck, HealthResource, stores_probe
from esb_runtime.gateway.functions_api import CONFIGURATION_PATH, FUNCTION_PATH, LIST_PATH, FunctionsApi
from esb_runtime.gateway.invoke_api import PATH as INVOKE_PATH, InvokeResource, is_loopback
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.proxied_invoke import call_timeout
from esb_runtime.gateway.proxy import RouteProxy
from esb_runtime.gateway.request_context import RequestContext, new_request_id
from esb_runtime.gateway.sigv4 import Credentials
from esb_runtime.gateway.throttle import FailureThrottle
from esb_runtime.gateway.refresh_tokens import REFRESH_DIR, RefreshTokens
from esb_runtime.gateway.user_pools import UserPools
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from esb_runtime.signing_key import SigningKey, TokenKey


def create_app(
    settings: RuntimeSettings,
    *,
    routes_source: ConfigSource,
    manager: ManagerClient,
    secrets: BoxSecrets,
    clock: Callable[[], float] = time.time,
    ids: Callable[[], str] = new_request_id,
    log_sink: LogSink = null_sink,
    url_source: UrlSource | None = None,
    health_ttl_s: float = 1.0,
    signing_key: TokenKey | None = None,
    invoker: ManagerClient | None = None,
) -> Gateway:
    """`invoker` runs the proxied calls (routes, function URLs): the direct-to-sandbox path in production;
    `manager` answers the rest (the Invoke API, whose request id and log tail only the manager knows; /health)."""
    invoker = invoker or manager
    key = signing_key or SigningKey.generate()  # the entry point passes the stored key; tests get a fresh one
    refresh = RefreshTokens(settings.state_dir / REFRESH_DIR, clock=clock)
    pools = UserPools(key, secrets, refresh=refresh, lifetime_s=settings.token_lifetime_s, clock=clock)
    credentials = Credentials(secrets.aws_access_key_id, secrets.aws_secret_access_key)
    context = RequestContext(clock, ids, guarded(log_sink))
    health = HealthCheck(manager, stores_probe(settings.s3_endpoint), ttl_s=health_ttl_s)
    login_throttle = FailureThrottle(clock=clock)  # one budget of failed sign-ins for both login doors

    cognito = CognitoIdpResource(routes_source, pools, login_throttle)
    functions_api = FunctionsApi(config=routes_source, credentials=credentials, clock=clock)
    own_apis = {  # path template -> Falcon resource
        HEALTH_PATH: HealthResource(health),  # GET is the data path's; this answers the other methods (405)
        LOGIN_PATH: LoginResource(routes_source, LoginAlias(secrets, pools), login_throttle),
        COGNITO_PATH: cognito,
        COGNITO_PATH + "/": cognito,
        JWKS_PATH: JwksResource(routes_source, pools),
        INVOKE_PATH: InvokeResource(
            config=routes_source, manager=manager, credentials=credentials, clock=clock,
            acquire_timeout_s=settings.acquire_timeout_s, loopback_box=is_loopback(settings.gateway_host),
        ),
        # boto3 lists with the slash
        **{path: functions_api for path in (LIST_PATH, LIST_PATH + "/", FUNCTION_PATH, CONFIGURATION_PATH)},
    }

    def control() -> WsgiApp:
        from esb_runtime.gateway.control import create_control_app  # Falcon: loaded on the first such request

        return create_control_app(context, own_apis)

    authorizers = Authorizers(key, manager, box_api_key=secrets.api_key, credentials=credentials, clock=clock,
                              timeout_s=call_timeout(None, settings.acquire_timeout_s))
    # Function URLs answer before routing, so /lambda-url/... and <fn>.lambda-url.localhost never reach routes.
    function_urls = FunctionUrls(
        urls=url_source or ConfigUrlSource(routes_source), manager=invoker,
        credentials=credentials, clock=clock, acquire_timeout_s=settings.acquire_timeout_s,
    )
    proxy = RouteProxy(config=routes_source, manager=invoker, authorizers=authorizers, clock=clock,
                      acquire_timeout_s=settings.acquire_timeout_s)
    return Gateway(context=context, urls=function_urls, health=health, proxy=proxy, control=control,
                   control_paths=tuple(own_apis))
