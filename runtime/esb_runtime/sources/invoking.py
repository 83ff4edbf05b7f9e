"""How event sources call functions: one synchronous invocation, with a trace id and a log record each."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.logs.records import manager_record

_OK = "ok"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    body: bytes
    request_id: str | None = None
    error: str | None = None  # errorType (function error), or the box's reason (throttled, timeout, ...)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


class InvokeFn(Protocol):
    def __call__(self, name: str, payload: bytes, *, trace_id: str | None = ...) -> Any: ...


def new_trace_id(clock: Callable[[], float] = time.time) -> str:
    """An X-Ray trace header for one delivery (Root=1-<epoch hex>-<96 random bits>)."""
    return f"Root=1-{int(clock()):08x}-{os.urandom(12).hex()};Sampled=0"


@dataclass
class SourceStats:
    """What `esb status` shows per source."""

    delivered: int = 0  # records/events handled successfully
    failed: int = 0  # failed attempts (each redelivery counts again)
    dead_lettered: int = 0  # sent to an OnFailure destination or a DLQ by the box
    in_dlq: int | None = None  # messages waiting in the queue's redrive DLQ (SQS sources)
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "failed": self.failed, "dead_lettered": self.dead_lettered,
                "in_dlq": self.in_dlq, "last_error": self.last_error}


class Caller:
    """Invokes through the manager's own invoke path (same pools, limits and breakers as any call)."""

    def __init__(self, invoke: InvokeFn, emit: Callable[[dict[str, Any]], None]) -> None:
        self._invoke, self._emit = invoke, emit

    def call(self, function: str, payload: dict[str, Any], *, source: str, kind: str, records: int,
             trace_id: str | None = None) -> Outcome:
        trace = trace_id or new_trace_id()
        data = json.dumps(payload, separators=(",", ":")).encode()
        try:
            result = self._invoke(function, data, trace_id=trace)
            outcome = Outcome(result.outcome == _OK, result.body, result.request_id,
                              None if result.outcome == _OK else _error_type(result.outcome, result.body))
        except RuntimeBoxError as exc:  # throttled, breaker open, payload too large, function gone
            outcome = Outcome(False, b"", None, f"{type(exc).__name__}: {exc.message}")
        self._emit(manager_record(
            f"{kind} delivery of {records} record(s) from {source}: {'ok' if outcome.ok else outcome.error}",
            level="info" if outcome.ok else "warn", function=function, trace_id=trace,
            request_id=outcome.request_id, event_source=source, event_kind=kind, records=records))
        return outcome


def _error_type(outcome: str, body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return outcome
    return str(parsed.get("errorType") or outcome) if isinstance(parsed, dict) else outcome
