"""The template's routes: match a route, answer CORS preflights, check auth, build the event, invoke, map the answer."""

from __future__ import annotations

import json
from typing import Callable

from esb_runtime.gateway import cors
from esb_runtime.gateway.authorizers import Authorizers
from esb_runtime.gateway.config_source import ConfigSource, GatewayConfig
from esb_runtime.gateway.proxy_events import EventContext, build_event
from esb_runtime.gateway.exchange import Exchange, read_body
from esb_runtime.gateway.lambda_authorizer import Verdict
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.proxied_invoke import INTEGRATION_TIMEOUT_S, call_timeout, invoke_proxied
from esb_runtime.gateway.request import IncomingRequest, forwarding_headers, from_environ
from esb_runtime.gateway.responses import MAX_SYNC_PAYLOAD, ProxyResponse, json_error
from esb_runtime.gateway.routing import Match, NoMatch, Route
from esb_runtime.gateway.unmatched import unmatched


def _refusal(verdict: Verdict) -> ProxyResponse:
    return ProxyResponse(verdict.status, [("Content-Type", "application/json")], json.dumps(verdict.body).encode())


class RouteProxy:
    def __init__(
        self,
        *,
        config: ConfigSource,
        manager: ManagerClient,
        authorizers: Authorizers,
        clock: Callable[[], float],
        acquire_timeout_s: float,
    ) -> None:
        self._config = config
        self._manager = manager
        self._authorizers = authorizers
        self._clock = clock
        self._acquire_timeout_s = acquire_timeout_s

    def answer(self, req: Exchange) -> tuple[ProxyResponse, list[tuple[str, str]]]:
        """The response, and the CORS headers that go with it (they replace the function's own on an HTTP API)."""
        return self._handle(self._config.current(), req)  # one config snapshot for the whole request

    def _cors(self, config: GatewayConfig, route: Route, req: Exchange,
              preflight: bool = False) -> list[tuple[str, str]]:
        """The CORS headers the route's API adds ([] without CORS rules or for a refused origin)."""
        api = config.apis.get(route.api)
        if api is None or api.cors is None:
            return []
        methods = config.router.methods_of(route.api, route.path)
        asked_method = req.get_header("Access-Control-Request-Method") if preflight else None
        asked_headers = req.get_header("Access-Control-Request-Headers") if preflight else None
        return cors.api_headers(api.kind, api.cors, req.get_header("Origin"), methods, asked_method, asked_headers)

    def _preflight(self, config: GatewayConfig, req: Exchange, match: Match | NoMatch) -> ProxyResponse | None:
        """An OPTIONS request to a path of an API with CORS is the gateway's to answer (a preflight, bare or not),
        unless the template routes OPTIONS on that path to a function."""
        if isinstance(match, Match) and match.route.method == "OPTIONS":
            return None
        by_path = match if isinstance(match, Match) else config.router.match_path(req.path)
        if by_path is None:
            return None
        api = config.apis.get(by_path.route.api)
        if api is None or api.cors is None:
            return None
        return cors.api_preflight(api.kind, self._cors(config, by_path.route, req, preflight=True))

    def _handle(self, config: GatewayConfig, req: Exchange) -> tuple[ProxyResponse, list[tuple[str, str]]]:
        match = config.router.match(req.method, req.path)
        if req.method == "OPTIONS":
            answer = self._preflight(config, req, match)
            if answer is not None:
                return answer, []
        if not isinstance(match, Match):
            return unmatched(config, match), []
        route = match.route
        req.context.function = route.function
        extra = self._cors(config, route, req)
        ctx = self._event_context(config, req, match)
        trace_header = req.context.trace.header
        # Authorizers see no body (API Gateway's don't either), so a refused request never has its body read.
        bodiless = from_environ(req.env, req.path, b"")
        verdict = self._authorizers.check(config, bodiless, ctx, trace=trace_header)
        if not verdict.allowed:
            return _refusal(verdict), extra
        body = read_body(req, MAX_SYNC_PAYLOAD)
        if body is None:
            return json_error(413, "Request Entity Too Large"), extra
        received = bodiless.but(body=body)
        verdict = self._authorizers.check_body(verdict, received, ctx)
        if not verdict.allowed:
            return _refusal(verdict), extra
        # API Gateway hands the function the trace it settled on, generated or not, as a header.
        incoming = received.with_headers([("X-Amzn-Trace-Id", trace_header), *forwarding_headers(received, req.env)])
        response = self._invoke(config, req, route, incoming, verdict.applied_to(ctx))
        if route.event != "HttpApi":
            # REST APIs add nothing themselves: a CORS header the function set wins over the template's.
            own = {name.lower() for name, _ in response.headers}
            extra = [(name, value) for name, value in extra if name.lower() not in own]
        return response, extra

    def _event_context(self, config: GatewayConfig, req: Exchange, match: Match) -> EventContext:
        api = config.apis.get(match.route.api)
        return EventContext(
            route=match.route,
            stage=api.stage if api else "$default",
            params=match.params,
            request_id=req.context.request_id,
            now=self._clock(),
            account_id=config.account_id,
            stage_variables=api.variables if api else None,
            binary_media_types=api.binary_media_types if api else (),
        )

    def _invoke(self, config: GatewayConfig, req: Exchange, route: Route, incoming: IncomingRequest,
                ctx: EventContext) -> ProxyResponse:
        event = build_event(incoming, ctx)
        info = config.functions.get(route.function)
        return invoke_proxied(self._manager, req, route.function, event, event_kind=route.event,
                              payload_version=route.payload_version,
                              timeout_s=call_timeout(info.timeout if info else None, self._acquire_timeout_s),
                              integration_timeout_s=INTEGRATION_TIMEOUT_S.get(route.event))
