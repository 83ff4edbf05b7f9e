"""The gateway's one log record per request, written to an injected sink."""

from __future__ import annotations

import logging
from typing import Any, Callable

from esb_runtime.logs.records import rfc3339

log = logging.getLogger(__name__)

LogSink = Callable[[dict[str, Any]], None]


def gateway_record(
    *,
    when: float,
    method: str,
    path: str,
    status: int,
    latency_ms: float,
    function: str | None,
    request_id: str,
    trace_root: str,
) -> dict[str, Any]:
    return {
        "time": rfc3339(when),
        "level": "error" if status >= 500 else "info",
        "source": "gateway",
        "function": function,
        "sandbox": None,
        "request_id": request_id,
        "trace_id": trace_root,
        "message": f"{method} {path} {status}",
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": round(latency_ms, 3),
    }


def null_sink(record: dict[str, Any]) -> None:
    """Used when no log store is available: records are dropped."""


def guarded(sink: LogSink) -> LogSink:
    """A sink whose failures are logged, never raised: logging must not fail a request."""

    def write(record: dict[str, Any]) -> None:
        try:
            sink(record)
        except Exception:  # noqa: BLE001 - any store failure is reported and swallowed
            log.exception("gateway log record not written")

    return write
