"""The manager with the process engine, the genuine RIE and awslambdaric: outcomes, concurrency, recycling."""

from __future__ import annotations

import base64
import math
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from esb_runtime.errors import CircuitOpen, FunctionNotFound, PayloadTooLarge, TooManyRequests
from esb_runtime.manager.process_engine import ProcessEngine, session_pids
from esb_runtime.manager.service import Manager
from esb_runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration

HANDLERS = """
import json, os, sys, time, threading

_active = 0
_lock = threading.Lock()

def handler(event, context):
    action = event.get("action", "echo")
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "fail":
        raise ValueError("boom")
    elif action == "exit":
        os._exit(1)
    elif action == "log":
        print(json.dumps({"level": "WARN", "message": "structured", "widget": 7}))
        print("plain text line")
    cc = context.client_context
    return {
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "request_id": context.aws_request_id,
        "pid": os.getpid(),
        "client_context": None if cc is None else {"custom": cc.custom},
        "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "GREETING", "ESB_OUTPUT_DIR",
                                                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "LAMBDA_TASK_ROOT", "TZ")},
    }
"""

TRACE = "Root=1-5f84c7a1-0123456789abcdef01234567;Sampled=1"


@pytest.fixture
def make_manager(tmp_path: Path, rie_path: Path, write_function: Callable[..., Path],
                 write_functions_yml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[Callable[..., tuple[Manager, list[dict[str, Any]]]]]:
    made: list[Manager] = []

    def make(functions: dict[str, dict[str, Any]] | None = None, source: str = HANDLERS,
             clock: Callable[[], float] = time.monotonic, **settings_fields: Any) -> tuple[Manager, list[dict[str, Any]]]:
        functions = functions or {"fn": {"environment": {"GREETING": "hi"}}}
        for name in functions:
            write_function(name, source)
        write_functions_yml(functions)
        out = tmp_path / ".esb"
        # Sandboxes must never see the manager's own variables.
        monkeypatch.setenv("ESB_OUTPUT_DIR", str(out))
        settings = RuntimeSettings(output_dir=out, manager_socket=out / "state" / "manager.sock", rie_path=rie_path,
                                   **settings_fields)
        records: list[dict[str, Any]] = []
        manager = Manager(settings, ProcessEngine(rie_path), records.extend, clock=clock)
        made.append(manager)
        return manager, records

    yield make
    for manager in made:
        manager.close()


def gone(pid: int, wait_s: float = 3.0) -> bool:
    """The process no longer runs (absent, or a zombie waiting for its reaper)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat[stat.rfind(")") + 2] == "Z":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def call(manager: Manager, event: dict[str, Any], name: str = "fn", **kwargs: Any) -> tuple[str, Any, Any]:
    result = manager.invoke(name, json.dumps(event).encode(), **kwargs)
    assert result is not None
    try:
        body = json.loads(result.body)
    except ValueError:
        body = result.body.decode()
    return result.outcome, body, result


def test_success_trace_request_id_and_environment(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    outcome, body, result = call(manager, {}, trace_id=TRACE)
    assert outcome == "ok"
    assert body["trace"] == TRACE
    assert str(uuid.UUID(body["request_id"])) == body["request_id"]
    assert result.request_id == body["request_id"]
    assert body["client_context"] is None
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn" and env["GREETING"] == "hi"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128" and env["TZ"] == ":UTC"
    assert env["ESB_OUTPUT_DIR"] is None
    assert env["LAMBDA_TASK_ROOT"].endswith("functions/fn/src")


def test_client_context_passes_through_without_the_carrier(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    _, body, _ = call(manager, {}, trace_id=TRACE, client_context=context)
    assert body["client_context"] == {"custom": {"k": "v"}}
    assert body["trace"] == TRACE


def test_function_error(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    outcome, body, result = call(manager, {"action": "fail"})
    assert outcome == "error"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    assert result.request_id == body["requestId"]
    assert call(manager, {})[0] == "ok"


def test_timeout_recycles_the_sandbox(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager({"fn": {"timeout": 1}})
    first = call(manager, {})[2]
    started = time.monotonic()
    outcome, body, result = call(manager, {"action": "sleep", "seconds": 3})
    elapsed = time.monotonic() - started
    assert outcome == "timeout"
    assert "Task timed out after 1.00 seconds" in body
    assert elapsed < 2.9  # answered at the deadline, not after the handler's sleep
    assert result.sandbox == first.sandbox
    outcome, _, after = call(manager, {})
    assert outcome == "ok" and after.sandbox != result.sandbox


def test_crash(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    outcome, body, result = call(manager, {"action": "exit"})
    assert outcome == "crash"
    assert body["errorType"] == "Runtime.ExitError"
    outcome, _, after = call(manager, {})
    assert outcome == "ok" and after.sandbox != result.sandbox


def test_init_error_is_classified(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager(source="import module_that_does_not_exist\n\ndef handler(e, c):\n    return 1\n")
    outcome, body, _ = call(manager, {})
    assert outcome == "init_error"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in body["errorMessage"]


def test_unknown_function_and_payload_limits(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    with pytest.raises(FunctionNotFound):
        manager.invoke("nope", b"{}")
    with pytest.raises(PayloadTooLarge):
        manager.invoke("fn", b"x" * 6_291_557)
    with pytest.raises(PayloadTooLarge):
        manager.invoke("fn", b"x" * 262_145, invocation_type="Event")


def _concurrent(manager: Manager, count: int, seconds: float) -> list[Any]:
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        results[i] = call(manager, {"action": "sleep", "seconds": seconds})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return results


def test_sixteen_concurrent_calls_never_share_a_sandbox(make_manager: Callable[..., Any]) -> None:
    # Exclusivity, not speed: 16 cold starts on a loaded 2-core CI machine may take longer than the default wait.
    manager, records = make_manager(default_concurrency=16, acquire_timeout_s=60)
    results = _concurrent(manager, 16, 0.3)
    assert all(r is not None and r[0] == "ok" for r in results), [r and r[0] for r in results]
    sandboxes = {r[2].sandbox for r in results}
    assert len(sandboxes) > 1
    # Exclusive leases: within one sandbox, START and END strictly alternate (no overlapping invocations).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        manager._shipper.flush()
        events = [r.get("event") for r in records]
        if events.count("END") >= 16:
            break
        time.sleep(0.05)
    spans: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        if record.get("event") in ("START", "END"):
            spans.setdefault(record["sandbox"], []).append((record["event"], record["request_id"]))
    for events in spans.values():
        kinds = [kind for kind, _ in events]
        assert kinds == ["START", "END"] * (len(kinds) // 2) and kinds


def test_reserved_concurrency_caps_sandboxes(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager({"fn": {"reserved_concurrency": 2}}, acquire_timeout_s=30)
    results = _concurrent(manager, 6, 0.2)
    assert all(r[0] == "ok" for r in results)
    assert len({r[2].sandbox for r in results}) <= 2
    assert len(manager.sandboxes()) <= 2


def test_waiters_get_too_many_requests(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager({"fn": {"reserved_concurrency": 1}}, acquire_timeout_s=0.2)
    holder = threading.Thread(target=call, args=(manager, {"action": "sleep", "seconds": 1.5}))
    holder.start()
    time.sleep(0.5)
    with pytest.raises(TooManyRequests):
        manager.invoke("fn", b"{}")
    holder.join()


def test_idle_sandboxes_stop(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager(idle_timeout_s=0.3)
    _, body, _ = call(manager, {})
    assert len(manager.sandboxes()) == 1
    deadline = time.monotonic() + 5
    while manager.sandboxes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert manager.sandboxes() == []
    assert gone(body["pid"])


def test_close_leaves_no_process(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    results = _concurrent(manager, 3, 0.2)
    runtime_pids = {r[1]["pid"] for r in results}
    rie_pids = {manager.engine.pid(slot.sandbox) for entry in manager._functions.values()
                for slot in entry.pool.slots()}
    manager.close()
    for pid in runtime_pids | rie_pids:
        assert gone(pid, wait_s=0)
    for pid in rie_pids:
        assert session_pids(pid) == []


def test_sigkilled_sandbox_gives_a_clear_error_and_is_replaced(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    first = call(manager, {})[2]
    slot = next(s for e in manager._functions.values() for s in e.pool.slots())
    rie_pid = manager.engine.pid(slot.sandbox)
    timer = threading.Timer(0.3, os.kill, args=(rie_pid, signal.SIGKILL))
    timer.start()
    started = time.monotonic()
    outcome, body, result = call(manager, {"action": "sleep", "seconds": 2.5})
    assert time.monotonic() - started < 2.0  # no hang until the handler or the deadline
    assert outcome == "crash"
    assert result.sandbox == first.sandbox
    assert "died during the invocation" in body["errorMessage"] and "signal 9" in body["errorMessage"]
    outcome, _, after = call(manager, {})
    assert outcome == "ok" and after.sandbox != first.sandbox


def test_sandbox_killed_while_idle_is_replaced_transparently(make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    first = call(manager, {})[2]
    slot = next(s for e in manager._functions.values() for s in e.pool.slots())
    os.kill(manager.engine.pid(slot.sandbox), signal.SIGKILL)
    time.sleep(0.1)
    outcome, _, after = call(manager, {})
    assert outcome == "ok" and after.sandbox != first.sandbox


def test_rebuilt_code_is_never_served_by_an_old_sandbox(make_manager: Callable[..., Any],
                                                       write_function: Callable[..., Path]) -> None:
    manager, _ = make_manager()
    first = call(manager, {})[2]
    time.sleep(0.01)
    write_function("fn", HANDLERS.replace('"trace":', '"version": 2, "trace":'))
    outcome, body, after = call(manager, {})
    assert outcome == "ok" and body.get("version") == 2 and after.sandbox != first.sandbox


def test_logs_records_and_tail(make_manager: Callable[..., Any]) -> None:
    manager, records = make_manager()
    _, _, result = call(manager, {"action": "log"}, trace_id=TRACE, log_tail=True)
    tail = result.log_tail.decode()
    assert "structured" in tail and "REPORT RequestId: " + result.request_id in tail
    manager._shipper.flush()
    mine = [r for r in records if r.get("request_id") == result.request_id]
    structured = next(r for r in mine if r["message"] == "structured")
    assert structured["widget"] == 7 and structured["level"] == "warn"
    assert structured["trace_id"] == "1-5f84c7a1-0123456789abcdef01234567"
    assert structured["function"] == "fn" and structured["sandbox"] == result.sandbox
    report = next(r for r in mine if r.get("event") == "REPORT")
    assert report["memory_mb"] == 128 and "duration_ms" in report


def test_event_invocation_runs_in_background(make_manager: Callable[..., Any], tmp_path: Path) -> None:
    marker = tmp_path / "event-ran"
    source = f"def handler(event, context):\n    open({str(marker)!r}, 'w').write(event['v'])\n    return 1\n"
    manager, _ = make_manager(source=source)
    assert manager.invoke("fn", b'{"v": "yes"}', invocation_type="Event") is None
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "yes"


def test_crash_loop_breaker_answers_at_once_without_a_sandbox_then_retries(
        make_manager: Callable[..., Any]) -> None:
    now = [1000.0]
    manager, records = make_manager(clock=lambda: now[0], breaker_failures=3, breaker_window_s=10.0)
    for _ in range(3):
        assert call(manager, {"action": "exit"})[0] == "crash"
    started = sum(r.get("message") == "sandbox started" for r in records)
    with pytest.raises(CircuitOpen):
        call(manager, {})
    assert sum(r.get("message") == "sandbox started" for r in records) == started
    assert manager.breakers()["fn"]["state"] == "open"
    now[0] += 10.5
    assert call(manager, {})[0] == "ok"
    assert manager.breakers()["fn"] == {"state": "closed", "failures": 0}


def test_records_true_to_the_call_a_traceback_whole_and_a_stop_one_info_line(
        make_manager: Callable[..., Any]) -> None:
    """Manager records carry the trace and request id of the call that caused them; a traceback is one
    record; a sandbox stopping is one info line, its runtime's dying words only at debug level."""
    manager, records = make_manager()
    outcome, _, result = call(manager, {"action": "fail"}, trace_id=TRACE)
    assert outcome == "error"
    manager.close()  # stops the sandbox, flushes the records
    root = "1-5f84c7a1-0123456789abcdef01234567"
    started = next(r for r in records if r.get("message") == "sandbox started")
    assert started["trace_id"] == root
    error = next(r for r in records if "ValueError: boom" in r["message"] and r.get("level") == "error")
    assert "boom\nTraceback (most recent call last):\n" in error["message"]
    assert error["request_id"] == result.request_id and error["trace_id"] == root
    stopped = [r for r in records if r.get("message") == "sandbox stopped"]
    assert len(stopped) == 1 and stopped[0]["level"] == "info"
    assert not [r for r in records if r["level"] != "debug" and "Failed to get next invocation" in r["message"]]


def _report_of(manager: Manager, records: list[dict[str, Any]], request_id: str, wait_s: float = 5.0) -> dict[str, Any]:
    """The REPORT record of a call: the RIE prints it after it answered, so it may come a moment later."""
    deadline = time.monotonic() + wait_s
    while True:
        manager._shipper.flush()
        found = [r for r in records if r.get("event") == "REPORT" and r["request_id"] == request_id]
        if found or time.monotonic() > deadline:
            assert found, f"no REPORT for {request_id}"
            return found[0]
        time.sleep(0.02)


def test_report_figures_are_measured(make_manager: Callable[..., Any]) -> None:
    """REPORT: Init Duration measured on the cold call only (not the RIE's ~0), Duration without the init,
    Billed Duration rounded up to the ms, Max Memory Used the runtime's own peak RSS (not Memory Size)."""
    source = HANDLERS.replace("import json, os, sys, time, threading",
                              "import json, os, sys, time, threading\ntime.sleep(0.3)  # a slow init")
    manager, records = make_manager(source=source)
    first = call(manager, {"action": "sleep", "seconds": 0.05})[2]
    second = call(manager, {})[2]
    cold, warm = (_report_of(manager, records, result.request_id) for result in (first, second))
    assert cold["init_ms"] >= 300 and "\tInit Duration: " in cold["message"]
    assert cold["message"].endswith(f"Init Duration: {cold['init_ms']:.2f} ms")
    assert 50 <= cold["duration_ms"] < cold["init_ms"]  # the init is not in the call's duration
    assert "init_ms" not in warm and "Init Duration" not in warm["message"]
    for report in (cold, warm):
        assert report["billed_ms"] == max(1, math.ceil(report["duration_ms"]))
        assert 5 <= report["max_memory_mb"] < report["memory_mb"] == 128
        assert f"Max Memory Used: {report['max_memory_mb']} MB" in report["message"]
    assert not [r for r in records if "ESB-METRICS" in r["message"]]  # the marker is never a record


def kept_grant(manager: Manager) -> Any:
    """A grant the holder may keep: on a sandbox whose bootstrap was heard announcing a call."""
    call(manager, {})
    deadline = time.monotonic() + 5
    while True:
        grant = manager.grant("fn", TRACE)
        if grant.keep or time.monotonic() > deadline:
            return grant
        manager.release(grant.sandbox, "ok")
        time.sleep(0.02)


def test_kept_leases_are_recalled_when_another_caller_waits_or_the_code_changes(
        make_manager: Callable[..., Any], write_function: Callable[..., Path]) -> None:
    manager, _ = make_manager(idle_timeout_s=0.4)  # the reaper, which notices rebuilds, looks every 0.1 s
    recalled: list[tuple[str, bool]] = []
    manager.recall_through(lambda sandbox, shortage: recalled.append((sandbox, shortage)))
    grant = kept_grant(manager)
    assert grant.keep
    other = manager.acquire("fn")  # nothing idle: the kept lease is asked back
    assert recalled == [(grant.sandbox, True)] and other.id != grant.sandbox
    manager.release(other.id, "ok")
    time.sleep(0.01)
    write_function("fn", HANDLERS.replace('"trace":', '"version": 2, "trace":'))
    deadline = time.monotonic() + 5
    while len(recalled) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    # Rebuilt: the holder must stop serving the old code.
    assert recalled == [(grant.sandbox, True), (grant.sandbox, False)]
    manager.release(grant.sandbox, "ok")
    assert grant.sandbox not in {row["id"] for row in manager.sandboxes()}


def test_only_a_sandbox_heard_announcing_its_calls_and_no_failure_pending_gives_kept_leases(
        make_manager: Callable[..., Any]) -> None:
    manager, _ = make_manager()
    fresh = manager.grant("fn", TRACE)
    assert not fresh.keep  # nothing heard from it yet: it may be an image's own runtime, without markers
    manager.release(fresh.sandbox, "ok")
    announced = kept_grant(manager)
    other = manager.grant("fn", TRACE)  # a second sandbox, whose call crashes
    manager.release(announced.sandbox, "ok")
    manager.release(other.sandbox, "crash")
    after_failure = manager.grant("fn", TRACE)
    assert announced.keep and after_failure.sandbox == announced.sandbox
    assert not after_failure.keep  # its outcome must reach the breaker
    manager.release(after_failure.sandbox, "ok")
    assert manager.grant("fn", TRACE).keep
