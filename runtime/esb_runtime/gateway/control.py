"""The box's own APIs on the gateway (sign-in, Cognito, JWKS, the Lambda Invoke and Functions APIs) as a Falcon app.

Imported on the first request to one of them (gateway/dispatch.py): the data path needs no web framework, and a box
that only serves its functions never loads Falcon (issue 14: ~5 MB of the gateway's idle memory).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import falcon

from esb_runtime.errors import MalformedRequest
from esb_runtime.gateway.falcon_io import send
from esb_runtime.gateway.request_context import RequestContext
from esb_runtime.gateway.responses import json_error

log = logging.getLogger(__name__)


class _Context:
    """RequestContext as Falcon middleware."""

    def __init__(self, context: RequestContext) -> None:
        self._context = context

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.function = None
        self._context.begin(req)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any, ok: bool) -> None:
        status = resp.status if isinstance(resp.status, int) else int(str(resp.status)[:3])
        for name, value in self._context.finish(req, status, resp.get_header("x-amzn-RequestId")):
            resp.set_header(name, value)


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: dict[str, Any]) -> None:
    # falcon.HTTPError (a 404 or 405 of these routes) never gets here: Falcon's own handler for it is more specific.
    if isinstance(exc, MalformedRequest):  # a body the client framed badly or stopped sending (read_body)
        send(resp, json_error(exc.status, exc.message))
        return
    log.exception("unhandled gateway error on %s %s", req.method, req.path)
    send(resp, json_error(500, "Internal server error"))


def create_control_app(context: RequestContext, routes: Mapping[str, Any]) -> falcon.App:
    """The Falcon app serving `routes` (path template -> resource)."""
    app = falcon.App(middleware=[_Context(context)])
    app.add_error_handler(Exception, _unexpected)
    for path, resource in routes.items():
        app.add_route(path, resource)
    return app
