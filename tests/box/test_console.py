"""esb.box.console: the foreground box's request lines and the handler output under them (no box needed)."""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from esb.box import state as boxstate
from esb.box.console import LiveConsole, attach
from esb.box.logs import store_settings
from esb.box.state import BoxState
from esb.paths import BuildTree
from esb.project import Images, Ports, Project
from esb.render.compose import LOCAL_LOGS
from fakes import FakeVictoriaLogs

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


def _project(tmp_path: Path, engine: str | None, logs_port: int = 9428, logs_image: str = Images().logs) -> Project:
    tree = BuildTree(tmp_path / ".esb")
    if engine is not None:
        boxstate.write(tree.state, BoxState(
            project="p", engine=engine, gateway_url="https://127.0.0.1:8443", ca_file="ca.pem",
            s3_endpoint="http://127.0.0.1:9000", dynamodb_endpoint="http://127.0.0.1:8000",
            lambda_endpoint="https://127.0.0.1:8443", region="us-east-1", started_at=0.0))
    return Project(project_dir=tmp_path, template=tmp_path / "template.yaml", output=tree, name="p",
                   images=replace(Images(), logs=logs_image), ports=replace(Ports(), logs=logs_port))


def test_the_compose_stacks_records_are_read_from_its_victorialogs(tmp_path: Path) -> None:
    settings = store_settings(_project(tmp_path / "c", "compose", logs_port=19428))
    assert (settings.log_store, settings.victorialogs_url) == ("victorialogs", "http://127.0.0.1:19428")
    for project in (_project(tmp_path / "p", "process"), _project(tmp_path / "n", None),
                    _project(tmp_path / "l", "compose", logs_image=LOCAL_LOGS)):
        assert store_settings(project).log_store == "local"  # the output tree's files


def _wait_for(out: io.StringIO, text: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while text not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    return out.getvalue()


def test_console_follows_the_compose_stacks_victorialogs(tmp_path: Path) -> None:
    fake = FakeVictoriaLogs()
    stop = threading.Event()
    try:
        soon = (datetime.now(timezone.utc) + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.123456Z")
        for record in (_sandbox("hello from the handler"), _sandbox("REPORT RequestId: lambda-1", event="REPORT"),
                       _gateway()):
            fake.rows.append({**{k: v for k, v in record.items() if k not in ("message", "time")},
                              "_msg": record["message"], "_time": soon, "_stream": "{}"})
        out = io.StringIO()
        attach(_project(tmp_path, "compose", logs_port=int(fake.url.rsplit(":", 1)[1])), stop, out)
        shown = _wait_for(out, "hello from the handler")
        assert re.search(r"GET /hello 200 12\.3 ms hello warm req-1\n    hello from the handler\n", shown)
        assert fake.queries, "the console asked VictoriaLogs"
        fake.stop()  # the stack's log store goes away: one line, no traceback, the box is not stopped
        assert "console stopped: the log store does not answer" in _wait_for(out, "console stopped")
    finally:
        stop.set()
        fake.stop()


def test_watch_console_prints_a_failed_calls_late_init_error_and_nothing_of_a_good_call() -> None:
    out, clock = io.StringIO(), Clock()
    console = LiveConsole(out, color=False, clock=clock, failures_only=True)
    good = "1-5f84c7a1-0123456789abcdef01234569"
    console.add(_gateway(trace=good))
    console.add(_gateway(status=502))
    clock.now += 1.0
    console.flush()  # both settle after the hold, before any output of theirs arrived (a loaded machine)
    console.add(_sandbox("late output of a good call", trace=good))
    console.add(_sandbox("[ERROR] Runtime.HandlerNotFound: Handler 'echo' missing", level="error"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("GET /hello 502 12.3 ms hello warm req-1")
    assert lines[1] == "    [ERROR] Runtime.HandlerNotFound: Handler 'echo' missing"
