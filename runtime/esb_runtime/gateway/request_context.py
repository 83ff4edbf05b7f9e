"""Every gateway answer's trace and request id, and its record in the log store (data path and Falcon alike)."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Protocol

from esb_runtime.gateway import trace
from esb_runtime.gateway.access_log import LogSink, gateway_record


class Request(Protocol):
    """What RequestContext reads of a request: an Exchange or a falcon.Request."""

    method: str
    path: str
    context: Any

    def get_header(self, name: str) -> str | None: ...


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

    def begin(self, req: Request) -> None:
        ctx = req.context
        ctx.started = time.perf_counter()
        ctx.trace = trace.accept_or_generate(req.get_header("X-Amzn-Trace-Id"), self._clock)
        ctx.request_id = self._ids()

    def finish(self, req: Request, status: int, request_id: str | None) -> list[tuple[str, str]]:
        """The headers every answer carries; `request_id` is the one the answer names already (the Invoke API's)."""
        ctx = req.context
        request_id = request_id or ctx.request_id
        self._sink(gateway_record(
            when=self._clock(), method=req.method, path=req.path, status=status,
            latency_ms=(time.perf_counter() - ctx.started) * 1000.0, function=ctx.function,
            request_id=request_id, trace_root=ctx.trace.root,
        ))
        return [("X-Amzn-Trace-Id", ctx.trace.header), ("x-amzn-RequestId", request_id)]
