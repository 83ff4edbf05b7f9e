"""Sandbox entry point: awslambdaric plus the trace id the RIE drops, restored per invocation."""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from typing import Any, Callable

# Staged alone as esb_bootstrap.py (function code cannot import esb_runtime): no imports of the runtime here.
# The manager's log pump reads this marker (esb_runtime.sandbox.metrics); a unit separator first, so no handler
# prints it by accident.
METRICS_MARKER = "\x1fESB-METRICS "
# Written as each invocation begins: its request id and trace (tab-separated), so the log pump attributes the
# call's lines itself (a gateway keeps its lease across calls and tells the manager nothing per call).
BEGIN_MARKER = "\x1fESB-BEGIN "
_STARTED = time.perf_counter()  # the runtime's init is measured from here to the handler imported

# The manager carries X-Amzn-Trace-Id here, inside the client context, because the RIE drops the header.
TRACE_KEY = "x-esb-trace-id"


def split_client_context(client_context_json: Any) -> tuple[Any, str | None]:
    """Remove the trace carrier; return (client context JSON as the caller sent it or None, trace id)."""
    if not client_context_json:
        return client_context_json, None
    try:
        data = json.loads(client_context_json)
    except ValueError:
        return client_context_json, None  # let awslambdaric report the malformed context as usual
    if not isinstance(data, dict) or not isinstance(data.get("custom"), dict):
        return client_context_json, None
    custom = data["custom"]
    if TRACE_KEY not in custom:
        return client_context_json, None
    trace = custom.pop(TRACE_KEY)
    if not custom:
        data.pop("custom")
    # Only the carrier was there: the caller sent no client context at all.
    restored = json.dumps(data) if data else None
    return restored, str(trace) if trace else None


def begin_line(request_id: Any, trace: str | None) -> bytes:
    """The marker line that opens one invocation's output (newlines and tabs of a hostile trace flattened)."""
    flat = (trace or "").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return f"{BEGIN_MARKER}{request_id}\t{flat}\n".encode()


def wrap_event_handler(original: Callable[..., Any],
                       write: Callable[[bytes], Any] | None = None) -> Callable[..., Any]:
    """Wrap awslambdaric's handle_event_request to restore _X_AMZN_TRACE_ID before the handler runs, and say on
    stdout (`write`) which invocation and trace the lines that follow belong to."""

    def handle_event_request(lambda_runtime_client: Any, request_handler: Any, invoke_id: Any,
                             event_body: Any, content_type: Any, client_context_json: Any,
                             *rest: Any, **kwargs: Any) -> Any:
        client_context_json, trace = split_client_context(client_context_json)
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        if write is not None:
            write(begin_line(invoke_id, trace))
        return original(lambda_runtime_client, request_handler, invoke_id, event_body, content_type,
                        client_context_json, *rest, **kwargs)

    return handle_event_request


def measured_line(duration_ms: float, init_ms: float | None, request_id: str | None = None) -> bytes:
    """The marker line for one invocation; max memory is the peak RSS of the runtime and what it forked. The
    request id pairs it with its REPORT, which the RIE may print after the next invocation has begun."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures: dict[str, Any] = {"duration_ms": round(duration_ms, 2),
                               "max_memory_mb": math.ceil((own + children) / 1024)}
    if request_id:
        figures["request_id"] = request_id
    if init_ms is not None:
        figures["init_ms"] = round(init_ms, 2)
    return (METRICS_MARKER + json.dumps(figures, separators=(",", ":")) + "\n").encode()


class Meter:
    """Times the init (to the handler imported) and each invocation (to its answer), and says so on stdout
    just before the answer is posted, so the RIE's REPORT line comes after it."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter, write: Callable[[bytes], Any] | None = None) -> None:
        self._clock = clock
        self.write: Callable[[bytes], Any] = write or (lambda data: os.write(1, data))
        self.init_ms: float | None = None
        self._invoked_at: float | None = None

    def wrap_get_handler(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def get_handler(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            finally:
                self.init_ms = (self._clock() - _STARTED) * 1000.0
        return get_handler

    def wrap_handle(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def handle(*args: Any, **kwargs: Any) -> Any:
            self._invoked_at = self._clock()
            return original(*args, **kwargs)
        return handle

    def wrap_post(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def post(*args: Any, **kwargs: Any) -> Any:
            if self._invoked_at is not None:
                init, self.init_ms = self.init_ms, None  # reported once: with the cold call
                invoke_id = args[0] if args else kwargs.get("invoke_id")  # awslambdaric's first parameter
                self.write(measured_line((self._clock() - self._invoked_at) * 1000.0, init,
                                          str(invoke_id) if invoke_id else None))
                self._invoked_at = None
            return original(*args, **kwargs)
        return post


def main(argv: list[str]) -> None:
    from awslambdaric import bootstrap
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    if len(argv) < 2:
        raise SystemExit("usage: python -m esb_runtime.sandbox.bootstrap <module.handler>")
    # The handler module is imported from the code dir (cwd), as awslambdaric does on Lambda.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    meter = Meter()
    bootstrap._get_handler = meter.wrap_get_handler(bootstrap._get_handler)
    bootstrap.handle_event_request = meter.wrap_handle(wrap_event_handler(bootstrap.handle_event_request, meter.write))
    client = LambdaRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"], False)
    client.post_invocation_result = meter.wrap_post(client.post_invocation_result)
    client.post_invocation_error = meter.wrap_post(client.post_invocation_error)
    bootstrap.run(argv[1], client)


if __name__ == "__main__":
    main(sys.argv)
