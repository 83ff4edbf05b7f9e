"""esb.box.console: the foreground box's request lines and the handler output under them (no box needed)."""

from __future__ import annotations

import io
import re

from esb.box.console import LiveConsole

TRACE = "1-5f84c7a1-0123456789abcdef01234567"


def _gateway(trace: str = TRACE, status: int = 200) -> dict:
    return {"time": "2026-11-29T10:00:01.250Z", "level": "info", "source": "gateway", "function": "hello",
            "request_id": "req-1", "trace_id": trace, "message": f"GET /hello {status}", "method": "GET",
            "path": "/hello", "status": status, "latency_ms": 12.34}


def _sandbox(message: str, level: str = "info", trace: str = TRACE, **extra: object) -> dict:
    return {"time": "2026-11-29T10:00:01.200Z", "level": level, "source": "sandbox", "function": "hello",
            "request_id": "lambda-1", "trace_id": trace, "message": message, **extra}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_request_line_then_handler_output_cold_then_warm() -> None:
    out, clock = io.StringIO(), Clock()
    console = LiveConsole(out, color=False, clock=clock)
    console.add({"source": "manager", "message": "sandbox started", "level": "info", "trace_id": TRACE})
    console.add(_sandbox("START RequestId: lambda-1", event="START"))
    console.add(_sandbox("hello from the handler"))
    console.add(_sandbox("rie chatter", level="debug"))
    console.add(_gateway())
    assert out.getvalue() == ""  # held: the function's REPORT has not come yet
    console.add(_sandbox("REPORT RequestId: lambda-1", event="REPORT"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("GET /hello 200 12.3 ms hello cold req-1")
    assert lines[1] == "    hello from the handler"
    warm = "1-5f84c7a1-0123456789abcdef01234568"
    console.add(_gateway(trace=warm))
    clock.now += 1.0
    console.flush()  # no REPORT in time: printed after the hold
    assert out.getvalue().splitlines()[2].endswith("hello warm req-1")
    assert "\x1b[" not in out.getvalue()  # plain text when not a terminal


def test_errors_in_colour_on_a_terminal_and_multi_line_output_indented() -> None:
    out = io.StringIO()
    console = LiveConsole(out, color=True)
    console.add(_sandbox("[ERROR] Runtime.HandlerNotFound: Handler 'handlr' missing\nTraceback", level="error"))
    console.add(_gateway(status=502))
    console.add(_sandbox("REPORT", event="REPORT"))
    assert "\x1b[31m502" in out.getvalue()  # a 5xx in red
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "    [ERROR] Runtime.HandlerNotFound: Handler 'handlr' missing" in text and "\n    Traceback" in text


def test_output_without_a_request_and_box_notes_are_printed_too() -> None:
    out, clock = io.StringIO(), Clock()
    console = LiveConsole(out, color=False, clock=clock)
    console.add({"source": "manager", "message": "sandbox stopped", "level": "info", "trace_id": None})
    console.add(_sandbox("scheduled run", trace="1-00000000-000000000000000000000001"))
    clock.now += 5.0
    console.flush()
    assert out.getvalue().splitlines() == ["    sandbox stopped", "    scheduled run"]


def test_failures_only_shows_a_failed_call_with_its_init_error_and_nothing_else() -> None:
    out = io.StringIO()
    console = LiveConsole(out, color=False, failures_only=True)
    console.add(_gateway())
    console.add(_sandbox("REPORT", event="REPORT"))
    console.add({"source": "manager", "message": "sandbox stopped", "level": "info", "trace_id": None})
    failed = "1-5f84c7a1-0123456789abcdef01234569"
    console.add(_sandbox("[ERROR] Runtime.ImportModuleError: No module named 'requests'", level="error", trace=failed))
    console.add(_gateway(trace=failed, status=502))
    console.add(_sandbox("REPORT", event="REPORT", trace=failed))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and " 502 " in lines[0]
    assert lines[1] == "    [ERROR] Runtime.ImportModuleError: No module named 'requests'"
