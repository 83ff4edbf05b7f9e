"""The log pump's attribution of a kept lease's calls: the sandbox's begin marker names each call's trace."""

from __future__ import annotations

from typing import Any

from esb_runtime.manager.logpump import SandboxLog
from esb_runtime.sandbox.bootstrap import begin_line, measured_line

REPORT = "REPORT RequestId: {}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB"


def feed_call(slog: SandboxLog, request_id: str, trace: str, *, marker_first: bool = False) -> None:
    """One call's output as the RIE and the bootstrap print it."""
    start, begin = f"START RequestId: {request_id} Version: $LATEST", begin_line(request_id, trace).decode()
    for line in ([begin, start] if marker_first else [start, begin]):
        slog.feed(line.rstrip("\n"))
    slog.feed(f"handler says {request_id}")
    slog.feed(measured_line(3.0, None, request_id).decode().rstrip("\n"))
    slog.feed(f"END RequestId: {request_id}")
    slog.feed(REPORT.format(request_id))


def by_request(records: list[dict[str, Any]]) -> dict[str, set[str | None]]:
    traces: dict[str, set[str | None]] = {}
    for record in records:
        traces.setdefault(record["request_id"], set()).add(record["trace_id"])
    return traces


def test_each_call_on_a_kept_lease_carries_its_own_trace() -> None:
    records: list[dict[str, Any]] = []
    slog = SandboxLog("fn", records.append)
    slog.bind("sb-1")
    slog.begin("Root=1-00000001-000000000000000000000001")  # the grant, for the first call only
    feed_call(slog, "a1", "Root=1-00000001-000000000000000000000001")
    feed_call(slog, "b2", "Root=1-00000002-000000000000000000000002")  # no begin(): the lease was kept
    feed_call(slog, "c3", "Root=1-00000003-000000000000000000000003", marker_first=True)
    assert by_request(records) == {"a1": {"1-00000001-000000000000000000000001"},
                                   "b2": {"1-00000002-000000000000000000000002"},
                                   "c3": {"1-00000003-000000000000000000000003"}}
    events = [record.get("event") or record["message"] for record in records if record["request_id"] == "b2"]
    assert events == ["START", "handler says b2", "END", "REPORT"]  # the held START keeps its place
    report = next(r for r in records if r["request_id"] == "b2" and r.get("event") == "REPORT")
    assert report["duration_ms"] == 3.0 and slog.invocations == 3


def test_a_start_without_a_marker_is_not_lost() -> None:
    """A sandbox staged before the marker existed: START goes out with the next line, its trace unknown."""
    records: list[dict[str, Any]] = []
    slog = SandboxLog("fn", records.append)
    slog.bind("sb-1")
    slog.begin("Root=1-00000001-000000000000000000000001")
    slog.feed("START RequestId: a1 Version: $LATEST")
    slog.feed("END RequestId: a1")
    slog.feed("START RequestId: b2 Version: $LATEST")
    slog.feed("END RequestId: b2")
    assert [(r["request_id"], r["event"]) for r in records] == [("a1", "START"), ("a1", "END"),
                                                                ("b2", "START"), ("b2", "END")]
    assert records[2]["trace_id"] is None  # never the previous call's trace


def test_the_last_calls_end_and_report_after_the_lease_went_back_keep_its_trace() -> None:
    records: list[dict[str, Any]] = []
    slog = SandboxLog("fn", records.append)
    slog.bind("sb-1")
    slog.begin("Root=1-00000001-000000000000000000000001")
    slog.feed("START RequestId: a1 Version: $LATEST")
    slog.end()  # the holder had its answer before the RIE printed END and REPORT
    slog.feed("END RequestId: a1")
    slog.feed("stray output")
    slog.begin("Root=1-00000002-000000000000000000000002")
    slog.feed(REPORT.format("a1"))
    assert [(r["message"][:6], r["trace_id"]) for r in records] == [
        ("START ", "1-00000001-000000000000000000000001"), ("END Re", "1-00000001-000000000000000000000001"),
        ("stray ", None), ("REPORT", "1-00000001-000000000000000000000001")]
