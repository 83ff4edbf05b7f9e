"""An in-memory ManagerClient for tests and local experiments: each function is a Python callable."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from esb_runtime.errors import FunctionNotFound
from esb_runtime.gateway.manager_client import InvokeResult

# A handler gets the decoded event and returns the JSON-able result, an InvokeResult (to fake
# errors and timeouts), or raises a RuntimeBoxError (to fake the manager's refusals).
Handler = Callable[[Any], Any]


@dataclass
class Call:
    function: str
    event: Any
    trace_id: str
    client_context: str | None
    invocation_type: str
    log_tail: bool
    timeout: float | None = None


@dataclass
class FakeManager:
    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    healthy: bool = True

    def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        trace_id: str,
        client_context: str | None = None,
        invocation_type: str = "RequestResponse",
        log_tail: bool = False,
        timeout: float | None = None,
    ) -> InvokeResult:
        event = json.loads(payload) if payload else None
        self.calls.append(Call(function, event, trace_id, client_context, invocation_type, log_tail, timeout))
        handler = self.handlers.get(function)
        if handler is None:
            raise FunctionNotFound(f"Function not found: {function}")
        request_id = str(uuid.uuid4())
        if invocation_type == "Event":
            return InvokeResult(202, "ok", request_id, b"")
        value = handler(event)  # a RuntimeBoxError raised here plays the manager refusing
        if isinstance(value, InvokeResult):
            return value
        tail = base64.b64encode(f"START RequestId: {request_id}\nEND\n".encode()).decode() if log_tail else None
        return InvokeResult(200, "ok", request_id, json.dumps(value).encode(), log_tail=tail)

    def health(self) -> dict[str, Any] | None:
        return {"status": "ok", "engine": "fake", "notes": []} if self.healthy else None
