"""Wires the gateway's Falcon app from settings and injected collaborators."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable

import falcon

from esb_runtime.gateway import trace
from esb_runtime.gateway.access_log import LogSink, gateway_record, guarded, null_sink
from esb_runtime.gateway.auth import PATH as LOGIN_PATH, LoginAlias
from esb_runtime.gateway.authorizers import Authorizers
from esb_runtime.gateway.cognito_api import JWKS_PATH, PATH as COGNITO_PATH, CognitoIdpResource, JwksResource
from esb_runtime.gateway.config_source import ConfigSource
from esb_runtime.gateway.falcon_io import read_body, send
from esb_runtime.gateway.function_urls import ConfigUrlSource, FunctionUrls, UrlSource
from esb_runtime.gateway.health import HealthCheck, stores_probe
from esb_runtime.gateway.functions_api import CONFIGURATION_PATH, FUNCTION_PATH, LIST_PATH, FunctionsApi
from esb_runtime.gateway.invoke_api import PATH as INVOKE_PATH, InvokeResource, is_loopback
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.proxied_invoke import call_timeout
from esb_runtime.gateway.proxy import ProxySink
from esb_runtime.gateway.responses import json_error
from esb_runtime.gateway.sigv4 import Credentials
from esb_runtime.gateway.throttle import FailureThrottle
from esb_runtime.gateway.refresh_tokens import REFRESH_DIR, RefreshTokens
from esb_runtime.gateway.user_pools import UserPools
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from esb_runtime.signing_key import SigningKey, TokenKey

log = logging.getLogger(__name__)
_AUTH_BODY_LIMIT = 64 * 1024


def new_request_id() -> str:
    """A random (version 4) UUID as text, formatted directly (uuid.UUID's checks took three times as long)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class RequestContext:
    """Gives every request a trace and a request id, echoes both, and writes its log record."""

    def __init__(self, clock: Callable[[], float], ids: Callable[[], str], sink: LogSink) -> None:
        self._clock = clock
        self._ids = ids
        self._sink = sink

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx = req.context
        ctx.started = time.perf_counter()
        ctx.trace = trace.accept_or_generate(req.get_header("X-Amzn-Trace-Id"), self._clock)
        ctx.request_id = self._ids()
        ctx.function = None

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool) -> None:
        ctx = req.context
        resp.set_header("X-Amzn-Trace-Id", ctx.trace.header)
        request_id = resp.get_header("x-amzn-RequestId") or ctx.request_id
        resp.set_header("x-amzn-RequestId", request_id)
        status = resp.status if isinstance(resp.status, int) else int(str(resp.status)[:3])
        self._sink(gateway_record(
            when=self._clock(), method=req.method, path=req.path, status=status,
            latency_ms=(time.perf_counter() - ctx.started) * 1000.0, function=ctx.function,
            request_id=request_id, trace_root=ctx.trace.root,
        ))


class HealthResource:
    def __init__(self, check: HealthCheck) -> None:
        self._check = check

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status, body = self._check.report()
        resp.status = status
        resp.content_type = "application/json"
        resp.data = json.dumps(body).encode()


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
        body = read_body(req, _AUTH_BODY_LIMIT)
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


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: dict[str, Any]) -> None:
    if isinstance(exc, falcon.HTTPError):
        send(resp, json_error(exc.status_code, exc.title or "Error"))
        return
    log.exception("unhandled gateway error on %s %s", req.method, req.path)
    send(resp, json_error(500, "Internal server error"))


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
) -> falcon.App:
    """`invoker` runs the proxied calls (routes, function URLs): the direct-to-sandbox path in production;
    `manager` answers the rest (the Invoke API, whose request id and log tail only the manager knows; /health)."""
    invoker = invoker or manager
    key = signing_key or SigningKey.generate()  # the entry point passes the stored key; tests get a fresh one
    refresh = RefreshTokens(settings.state_dir / REFRESH_DIR, clock=clock)
    pools = UserPools(key, secrets, refresh=refresh, lifetime_s=settings.token_lifetime_s, clock=clock)
    credentials = Credentials(secrets.aws_access_key_id, secrets.aws_secret_access_key)
    # Function URLs answer before routing, so /lambda-url/... and <fn>.lambda-url.localhost never reach routes.
    function_urls = FunctionUrls(
        urls=url_source or ConfigUrlSource(routes_source), manager=invoker,
        credentials=credentials, clock=clock, acquire_timeout_s=settings.acquire_timeout_s,
    )
    app = falcon.App(middleware=[RequestContext(clock, ids, guarded(log_sink)), function_urls])
    app.add_error_handler(Exception, _unexpected)
    app.add_route("/health", HealthResource(HealthCheck(manager, stores_probe(settings.s3_endpoint), ttl_s=health_ttl_s)))
    login_throttle = FailureThrottle(clock=clock)  # one budget of failed sign-ins for both login doors
    app.add_route(LOGIN_PATH, LoginResource(routes_source, LoginAlias(secrets, pools), login_throttle))
    cognito = CognitoIdpResource(routes_source, pools, login_throttle)
    app.add_route(COGNITO_PATH, cognito)
    app.add_route(COGNITO_PATH + "/", cognito)
    app.add_route(JWKS_PATH, JwksResource(routes_source, pools))
    app.add_route(INVOKE_PATH, InvokeResource(
        config=routes_source, manager=manager, credentials=credentials, clock=clock,
        acquire_timeout_s=settings.acquire_timeout_s, loopback_box=is_loopback(settings.gateway_host),
    ))
    functions_api = FunctionsApi(config=routes_source, credentials=credentials, clock=clock)
    for path in (LIST_PATH, LIST_PATH + "/", FUNCTION_PATH, CONFIGURATION_PATH):  # boto3 lists with the slash
        app.add_route(path, functions_api)
    authorizers = Authorizers(key, manager, box_api_key=secrets.api_key, credentials=credentials, clock=clock,
                              timeout_s=call_timeout(None, settings.acquire_timeout_s))
    app.add_sink(ProxySink(
        config=routes_source, manager=invoker, authorizers=authorizers, clock=clock,
        acquire_timeout_s=settings.acquire_timeout_s,
    ), prefix="/")
    return app
