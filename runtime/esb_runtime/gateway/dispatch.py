"""The gateway's WSGI app: the data path answered here, the box's own APIs handed to a Falcon app made on first use.

The data path is every request a function answers (function URLs, then the template's routes) and GET /health:
an Exchange in, a ProxyResponse out, with no framework between (issue 14). Paths of the box's own APIs (sign-in,
Cognito, the Lambda API) go to the Falcon app whole, as before; they win over a template route on the same path,
as Falcon's routes won over its catch-all sink, and a function URL wins over both.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, Sequence

from esb_runtime.errors import MalformedRequest
from esb_runtime.gateway.exchange import NO_CONTENT, Exchange, status_line, wsgi_headers
from esb_runtime.gateway.function_urls import FunctionUrls, target_of
from esb_runtime.gateway.health import HealthCheck
from esb_runtime.gateway.proxy import RouteProxy
from esb_runtime.gateway.request_context import RequestContext
from esb_runtime.gateway.responses import ProxyResponse, json_error
from esb_runtime.manager.wsgi_routes import template_pattern

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Answer = tuple[ProxyResponse, list[tuple[str, str]]]

log = logging.getLogger(__name__)
HEALTH_PATH = "/health"


class Gateway:
    def __init__(self, *, context: RequestContext, urls: FunctionUrls, health: HealthCheck, proxy: RouteProxy,
                 control: Callable[[], WsgiApp], control_paths: Sequence[str]) -> None:
        self._context, self._urls, self._health, self._proxy = context, urls, health, proxy
        self._make_control = control
        self._control: WsgiApp | None = None
        # One pattern for every path of the box's own APIs (their templates' `{field}`: one path segment).
        patterns = (template_pattern(path, capture=False).pattern for path in control_paths)
        self._control_path = re.compile("|".join(f"(?:{pattern})" for pattern in patterns))

    def __call__(self, env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = Exchange(env)
        target = target_of(req.get_header("Host") or "", req.path)
        if target is None and not (req.method == "GET" and req.path == HEALTH_PATH) \
                and self._control_path.match(req.path):
            return self._control_app()(env, start_response)
        self._context.begin(req)
        try:
            response, extra = self._answer(req, target)
        except MalformedRequest as exc:  # a body the client framed badly or stopped sending (read_body)
            response, extra = json_error(exc.status, exc.message), []
        except Exception:  # noqa: BLE001 - one request's bug is a 500 and a traceback, never a dead connection
            log.exception("unhandled gateway error on %s %s", req.method, req.path)
            response, extra = json_error(500, "Internal server error"), []
        last = self._context.finish(req, response.status, _named_request_id(response))
        headers = wsgi_headers(response, extra, last)
        if req.method == "HEAD":  # no body; the length a GET would have, where one is due (as under Falcon)
            if response.status >= 200 and response.status not in NO_CONTENT:
                headers.append(("content-length", str(len(response.body))))
            start_response(status_line(response.status), headers)
            return []
        start_response(status_line(response.status), headers)
        return [response.body]

    def _answer(self, req: Exchange, target: tuple[str, str, bool] | None) -> Answer:
        if target is not None:
            return self._urls.answer(req, *target)
        if req.path == HEALTH_PATH:
            return self._health.answer(), []
        return self._proxy.answer(req)

    def _control_app(self) -> WsgiApp:
        if self._control is None:
            self._control = self._make_control()
        return self._control


def _named_request_id(response: ProxyResponse) -> str | None:
    """The x-amzn-RequestId a function's answer sets itself, which the gateway keeps (as it did under Falcon)."""
    for name, value in response.headers:
        if len(name) == 16 and name.lower() == "x-amzn-requestid":
            return value
    return None
