"""The manager's internal HTTP API (docs/architecture.md "Manager internal API") as a Falcon app."""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

import falcon

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.manager.invoke import InvalidRequest
from esb_runtime.manager.service import Manager

INVOCATION_TYPES = ("RequestResponse", "Event")


class SourcesStatus(Protocol):
    def status(self) -> list[dict[str, Any]]: ...


def _json_body(req: falcon.Request) -> dict[str, Any]:
    try:
        data = json.loads(req.bounded_stream.read() or b"{}")
    except ValueError as exc:
        raise InvalidRequest("the request body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


def _handle_error(req: falcon.Request, resp: falcon.Response, exc: RuntimeBoxError, params: Any) -> None:
    resp.status = exc.status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps({"error": exc.code, "message": exc.message}).encode()


class Invoke:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        kind = req.get_header("X-Esb-Invocation-Type") or "RequestResponse"
        if kind not in INVOCATION_TYPES:
            raise InvalidRequest(f"unknown invocation type {kind!r}")
        result = self.manager.invoke(
            name, req.bounded_stream.read(), trace_id=req.get_header("X-Esb-Trace-Id"),
            client_context=req.get_header("X-Esb-Client-Context"), invocation_type=kind,
            log_tail=req.get_header("X-Esb-Log-Tail") == "1")
        if result is None:
            resp.status = 202
            resp.data = b""
            return
        resp.content_type = "application/json"
        resp.data = result.body
        resp.set_header("X-Esb-Outcome", result.outcome)
        resp.set_header("X-Esb-Sandbox", result.sandbox)
        if result.request_id:
            resp.set_header("X-Esb-Request-Id", result.request_id)
        if result.log_tail is not None:
            resp.set_header("X-Esb-Log-Tail", base64.b64encode(result.log_tail).decode())


class Acquire:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        name = _json_body(req).get("function")
        if not isinstance(name, str):
            raise InvalidRequest('body must be {"function": name}')
        slot = self.manager.acquire(name)
        resp.media = {"sandbox": slot.id, "invoke_url": slot.sandbox.invoke_url}


class Release:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = _json_body(req)
        if not isinstance(body.get("sandbox"), str):
            raise InvalidRequest('body must be {"sandbox": id, "outcome": ...}')
        self.manager.release(body["sandbox"], str(body.get("outcome", "ok")))
        resp.status = 204


class Sandboxes:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.manager.sandboxes()


class Breakers:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.manager.breakers()


class Health:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.manager.health()


class Reload:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.manager.reload(force=True, strict=True)
        resp.media = {"functions": self.manager.function_names()}


class Sources:
    def __init__(self, sources: SourcesStatus | None) -> None:
        self.sources = sources

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.sources.status() if self.sources is not None else []


def create_app(manager: Manager, sources: SourcesStatus | None = None) -> falcon.App:
    app = falcon.App()
    app.add_error_handler(RuntimeBoxError, _handle_error)
    app.add_route("/v1/functions/{name}/invoke", Invoke(manager))
    app.add_route("/v1/acquire", Acquire(manager))
    app.add_route("/v1/release", Release(manager))
    app.add_route("/v1/sandboxes", Sandboxes(manager))
    app.add_route("/v1/breakers", Breakers(manager))
    app.add_route("/v1/health", Health(manager))
    app.add_route("/v1/reload", Reload(manager))
    app.add_route("/v1/sources", Sources(sources))
    return app
