"""The catch-all sink: match a route, check auth and CORS, build the event, invoke, map the response."""

from __future__ import annotations

from typing import Any, Callable

import falcon

from esb_runtime.gateway import cors
from esb_runtime.gateway.auth import Authenticator
from esb_runtime.gateway.config_source import ConfigSource, GatewayConfig
from esb_runtime.gateway.events import EventContext, build_event
from esb_runtime.gateway.falcon_io import read_body, send
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.proxied_invoke import call_timeout, invoke_proxied
from esb_runtime.gateway.request import from_environ
from esb_runtime.gateway.responses import MAX_SYNC_PAYLOAD, ProxyResponse, json_error
from esb_runtime.gateway.routing import Match


class ProxySink:
    def __init__(
        self,
        *,
        config: ConfigSource,
        manager: ManagerClient,
        authenticator: Authenticator,
        clock: Callable[[], float],
        acquire_timeout_s: float,
    ) -> None:
        self._config = config
        self._manager = manager
        self._auth = authenticator
        self._clock = clock
        self._acquire_timeout_s = acquire_timeout_s

    def __call__(self, req: falcon.Request, resp: falcon.Response, **_: Any) -> None:
        config = self._config.current()  # one snapshot for the whole request
        response, extra = self._handle(config, req)
        send(resp, response, extra)

    def _cors_rules(self, config: GatewayConfig, route_api: str) -> cors.Cors | None:
        api = config.apis.get(route_api)
        return api.cors if api else None

    def _handle(self, config: GatewayConfig, req: falcon.Request) -> tuple[ProxyResponse, list[tuple[str, str]]]:
        method, path, origin = req.method, req.path, req.get_header("Origin")
        request_method = req.get_header("Access-Control-Request-Method")
        if cors.is_preflight(method, origin, request_method):
            by_path = config.router.match_path(path)
            rules = self._cors_rules(config, by_path.route.api) if by_path else None
            if rules is not None:
                return cors.preflight(rules, origin, request_method or "", req.get_header("Access-Control-Request-Headers")), []
        match = config.router.match(method, path)
        if not isinstance(match, Match):
            if match.allowed:
                return json_error(405, "Method Not Allowed", [("Allow", ", ".join(match.allowed))]), []
            return json_error(404, "Not Found"), []
        route = match.route
        req.context.function = route.function
        rules = self._cors_rules(config, route.api)
        extra = cors.response_headers(rules, origin) if rules else []
        claims = None
        if route.auth:
            claims = self._auth.claims_from_bearer(req.get_header("Authorization"))
            if claims is None:
                return json_error(401, "Unauthorized"), extra
        body = read_body(req, MAX_SYNC_PAYLOAD)
        if body is None:
            return json_error(413, "Request Entity Too Large"), extra
        return self._invoke(config, req, match, body, claims), extra

    def _invoke(self, config: GatewayConfig, req: falcon.Request, match: Match, body: bytes,
                claims: dict[str, Any] | None) -> ProxyResponse:
        route = match.route
        api = config.apis.get(route.api)
        ctx = EventContext(
            route=route,
            stage=api.stage if api else "$default",
            params=match.params,
            request_id=req.context.request_id,
            now=self._clock(),
            account_id=config.account_id,
            claims=claims,
        )
        # API Gateway hands the function the trace it settled on, generated or not, as a header.
        incoming = from_environ(req.env, req.path, body).with_header("X-Amzn-Trace-Id", req.context.trace.header)
        event = build_event(incoming, ctx)
        info = config.functions.get(route.function)
        return invoke_proxied(self._manager, req, route.function, event, event_kind=route.event,
                              timeout_s=call_timeout(info.timeout if info else None, self._acquire_timeout_s))
