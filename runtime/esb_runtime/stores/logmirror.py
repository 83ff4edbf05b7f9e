"""CloudWatch Logs events a function writes (PutLogEvents) also land in the box's log store, for `esb logs`."""

from __future__ import annotations

import io
import json
from typing import Any, Callable, Iterable

from esb_runtime.logs.records import rfc3339
from esb_runtime.stores.auth import Environ, StartResponse, WsgiApp
from esb_runtime.stores.recorder import call

PUT_LOG_EVENTS = "Logs_20140328.PutLogEvents"
_LAMBDA_GROUP = "/aws/lambda/"
Sink = Callable[[list[dict[str, Any]]], None]


def log_records(request: dict[str, Any]) -> list[dict[str, Any]]:
    """One box log record per event; a /aws/lambda/<name> group is that function's log."""
    group = str(request.get("logGroupName", ""))
    function = group[len(_LAMBDA_GROUP):] if group.startswith(_LAMBDA_GROUP) else None
    return [{
        "time": rfc3339(int(event.get("timestamp", 0)) / 1000),
        "level": "info",
        "source": "cloudwatch-logs",
        "function": function,
        "sandbox": None,
        "request_id": None,
        "trace_id": None,
        "message": str(event.get("message", "")),
        "log_group": group,
        "log_stream": request.get("logStreamName"),
    } for event in request.get("logEvents") or [] if isinstance(event, dict)]


class LogMirror:
    """WSGI middleware: after moto accepted a PutLogEvents, copy its events to the sink."""

    def __init__(self, app: WsgiApp, sink: Sink, log: Callable[[str], None]) -> None:
        self.app, self.sink, self.log = app, sink, log

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ.get("wsgi.input")
        if environ.get("HTTP_X_AMZ_TARGET") != PUT_LOG_EVENTS or not isinstance(stream, io.BytesIO):
            return self.app(environ, start_response)
        body = stream.getvalue()
        answer = call(self.app, environ)
        if 200 <= answer.status < 300:
            try:
                self.sink(log_records(json.loads(body)))
            except (ValueError, OSError) as exc:  # the events are in moto; only the copy failed
                self.log(f"PutLogEvents not copied to the log store: {exc}")
        start_response(answer.status_line, answer.headers)
        return answer.body
