"""The manager's internal HTTP API (docs/architecture.md "Manager internal API") as a WSGI routes table."""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from esb_runtime.manager.invoke import InvalidRequest
from esb_runtime.manager.service import Manager
from esb_runtime.manager.wsgi_routes import Reply, Request, Routes

INVOCATION_TYPES = ("RequestResponse", "Event")


class SourcesStatus(Protocol):
    def status(self) -> list[dict[str, Any]]: ...


def _json_body(req: Request) -> dict[str, Any]:
    try:
        data = json.loads(req.body() or b"{}")
    except ValueError as exc:
        raise InvalidRequest("the request body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


class Api:
    """The handlers: thin, everything they do is the manager's (or the event sources') own method."""

    def __init__(self, manager: Manager, sources: SourcesStatus | None) -> None:
        self.manager = manager
        self.sources = sources

    def invoke(self, req: Request) -> Reply:
        kind = req.header("X-Esb-Invocation-Type") or "RequestResponse"
        if kind not in INVOCATION_TYPES:
            raise InvalidRequest(f"unknown invocation type {kind!r}")
        result = self.manager.invoke(
            req.params["name"], req.body(), trace_id=req.header("X-Esb-Trace-Id"),
            client_context=req.header("X-Esb-Client-Context"), invocation_type=kind,
            log_tail=req.header("X-Esb-Log-Tail") == "1")
        if result is None:
            return Reply(202)
        headers = [("Content-Type", "application/json"), ("X-Esb-Outcome", result.outcome),
                   ("X-Esb-Sandbox", result.sandbox)]
        if result.request_id:
            headers.append(("X-Esb-Request-Id", result.request_id))
        if result.log_tail is not None:
            headers.append(("X-Esb-Log-Tail", base64.b64encode(result.log_tail).decode()))
        return Reply(200, result.body, headers)

    def acquire(self, req: Request) -> Reply:
        name = _json_body(req).get("function")
        if not isinstance(name, str):
            raise InvalidRequest('body must be {"function": name}')
        slot = self.manager.acquire(name)
        return Reply.of_json({"sandbox": slot.id, "invoke_url": slot.sandbox.invoke_url})

    def release(self, req: Request) -> Reply:
        body = _json_body(req)
        if not isinstance(body.get("sandbox"), str):
            raise InvalidRequest('body must be {"sandbox": id, "outcome": ...}')
        self.manager.release(body["sandbox"], str(body.get("outcome", "ok")))
        return Reply(204)

    def reload(self, req: Request) -> Reply:
        self.manager.reload(force=True, strict=True)
        return Reply.of_json({"functions": self.manager.function_names()})

    def sources_status(self, req: Request) -> Reply:
        return Reply.of_json(self.sources.status() if self.sources is not None else [])


def create_app(manager: Manager, sources: SourcesStatus | None = None) -> Routes:
    api = Api(manager, sources)
    return Routes({
        "/v1/functions/{name}/invoke": {"POST": api.invoke},
        "/v1/acquire": {"POST": api.acquire},
        "/v1/release": {"POST": api.release},
        "/v1/sandboxes": {"GET": lambda req: Reply.of_json(manager.sandboxes())},
        "/v1/breakers": {"GET": lambda req: Reply.of_json(manager.breakers())},
        "/v1/health": {"GET": lambda req: Reply.of_json(manager.health())},
        "/v1/reload": {"POST": api.reload},
        "/v1/sources": {"GET": api.sources_status},
    })
