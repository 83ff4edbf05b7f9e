"""The log pump's attribution of a kept lease's calls: the sandbox's begin marker names each call's trace."""

from __future__ import annotations

import random
from typing import Any

from esb_runtime.manager.logpump import SandboxLog
from esb_runtime.sandbox.bootstrap import begin_line, measured_line

REPORT = "REPORT RequestId: {}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB"


def bound_log() -> tuple[SandboxLog, list[dict[str, Any]]]:
    """A sandbox's log bound to sb-1, and the records it emits."""
    records: list[dict[str, Any]] = []
    slog = SandboxLog("fn", records.append)
    slog.bind("sb-1")
    return slog, records


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
    slog, records = bound_log()
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


def test_a_start_without_a_marker_goes_out_with_the_next_line_under_its_leases_trace() -> None:
    """A sandbox without markers (a container image's own runtime, a tree staged before them)."""
    slog, records = bound_log()
    for request_id, trace in (("a1", "Root=1-00000001-000000000000000000000001"),
                              ("b2", "Root=1-00000002-000000000000000000000002")):
        slog.begin(trace)
        slog.feed(f"START RequestId: {request_id} Version: $LATEST")
        assert records[-1:] == [] or records[-1]["request_id"] != request_id  # held for its marker
        slog.feed(f"END RequestId: {request_id}")
        slog.end()
    assert [(r["request_id"], r["event"], r["trace_id"]) for r in records] == [
        ("a1", "START", "1-00000001-000000000000000000000001"), ("a1", "END", "1-00000001-000000000000000000000001"),
        ("b2", "START", "1-00000002-000000000000000000000002"), ("b2", "END", "1-00000002-000000000000000000000002")]
    assert not slog.announces


def test_calls_keep_their_traces_however_lease_returns_and_output_interleave() -> None:
    """The lease's begin/end come on the lease socket, the output on the pipe: the pump may read a call's lines
    after its lease went back and the next one began, or a kept lease's calls with no lease event at all."""
    for seed in range(300):
        assert interleaved(random.Random(seed)) == [], f"seed {seed}"


def interleaved(rnd: random.Random, calls: int = 12) -> list[tuple[str, Any, Any]]:
    """The records whose trace is not their call's, for one random interleaving of lease events and reads."""
    slog, records = bound_log()
    produced: list[tuple[str, str | None]] = []  # ("begin", trace) / ("end", None) / ("line", text)
    want: dict[str, str] = {}
    kept = False
    for n in range(1, calls + 1):
        request_id, trace = f"{n:08x}-0000-0000-0000-000000000000", f"Root=1-{n:08x}-{n:024x}"
        want[request_id] = trace.split("=")[1]
        if not kept:
            produced.append(("begin", trace))
        produced += [("line", f"START RequestId: {request_id} Version: $LATEST"),
                     ("line", begin_line(request_id, trace).decode().rstrip("\n")),
                     ("line", measured_line(1.0, None, request_id).decode().rstrip("\n"))]
        ending: list[tuple[str, str | None]] = [("line", f"END RequestId: {request_id}"),
                                                ("line", REPORT.format(request_id))]
        kept = rnd.random() < 0.5
        if not kept:  # the holder had its answer: its return may come before or after END and REPORT
            ending.insert(rnd.randint(0, 2), ("end", None))
        produced += ending
    unread: list[str] = []
    while produced or unread:
        if produced and (not unread or rnd.random() < 0.5):
            kind, value = produced.pop(0)
            if kind == "begin":
                slog.begin(value)
            elif kind == "end":
                slog.end()
            else:
                unread.append(str(value))
        else:
            slog.feed(unread.pop(0))
    return [(r["request_id"], r.get("event"), r["trace_id"]) for r in records if want[r["request_id"]] != r["trace_id"]]


def test_the_last_calls_end_and_report_after_the_lease_went_back_keep_its_trace() -> None:
    slog, records = bound_log()
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


def test_output_of_the_last_call_read_after_the_stop_began_is_still_that_calls() -> None:
    slog, records = bound_log()
    slog.begin("Root=1-00000001-000000000000000000000001")
    slog.feed("START RequestId: a1 Version: $LATEST")
    slog.closing()  # the manager stops the sandbox; its pipe still holds the call's error and END
    slog.feed("[ERROR] ValueError: boom")
    slog.feed("END RequestId: a1")
    slog.feed("[ERROR] Failed to get next invocation")  # the runtime's dying words
    assert [(r["message"], r["level"], r["request_id"]) for r in records] == [
        ("START RequestId: a1 Version: $LATEST", "info", "a1"), ("[ERROR] ValueError: boom", "error", "a1"),
        ("END RequestId: a1", "info", "a1"), ("[ERROR] Failed to get next invocation", "debug", None)]


def test_a_late_end_read_after_the_stop_began_still_ends_the_last_call() -> None:
    slog, records = bound_log()
    slog.begin("Root=1-00000001-000000000000000000000001")
    slog.feed("START RequestId: a1 Version: $LATEST")
    slog.end()  # the lease went back before the RIE printed END (common with the RIE on one Go thread)
    slog.closing()
    slog.feed("END RequestId: a1")
    slog.feed("[ERROR] Failed to get next invocation")  # the runtime's dying words
    assert [(r["message"], r["level"], r["request_id"]) for r in records][-2:] == [
        ("END RequestId: a1", "info", "a1"), ("[ERROR] Failed to get next invocation", "debug", None)]


def test_an_end_of_the_call_before_does_not_end_the_call_in_flight() -> None:
    slog, records = bound_log()
    slog.begin("Root=1-00000001-000000000000000000000001")
    slog.feed("START RequestId: a1 Version: $LATEST")
    slog.end()
    slog.begin("Root=1-00000002-000000000000000000000002")
    slog.feed("START RequestId: a2 Version: $LATEST")
    slog.feed("END RequestId: a1")  # late, of the call before
    slog.closing()  # a2 is still running when the stop begins: its output keeps its level
    slog.feed("[ERROR] a2 failed")
    assert (records[-1]["message"], records[-1]["level"]) == ("[ERROR] a2 failed", "error")
