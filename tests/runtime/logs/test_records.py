"""Log record building from sandbox lines."""

from __future__ import annotations

from esb_runtime.logs.records import build_record, parse_line, trace_root

RID = "3e630b55-c1e1-486c-a87e-fd8a218abd91"


def record(line: str, **kw: object) -> dict:
    fields = dict(function="fn", sandbox="sb-1", request_id="lease-rid", trace_id="Root=1-abc-def;Sampled=1", when=0.0)
    fields.update(kw)
    return build_record(line, **fields)  # type: ignore[arg-type]


def test_core_fields_and_trace_root() -> None:
    rec = record("plain text")
    assert rec == {"time": "1970-01-01T00:00:00.000Z", "level": "info", "source": "sandbox", "function": "fn",
                   "sandbox": "sb-1", "request_id": "lease-rid", "trace_id": "1-abc-def", "message": "plain text"}


def test_report_metrics() -> None:
    line = (f"REPORT RequestId: {RID}\tInit Duration: 0.23 ms\tDuration: 38.35 ms\tBilled Duration: 39 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 64 MB\t")
    rec = record(line)
    assert rec["request_id"] == RID and rec["event"] == "REPORT"
    assert (rec["init_ms"], rec["duration_ms"], rec["billed_ms"], rec["memory_mb"], rec["max_memory_mb"]) == (
        0.23, 38.35, 39, 128, 64)


def test_start_line_request_id_wins() -> None:
    rec = record(f"START RequestId: {RID} Version: $LATEST")
    assert rec["request_id"] == RID and rec["event"] == "START"


def test_json_line_keeps_fields_but_not_core_ones() -> None:
    rec = record('{"level": "ERROR", "message": "bad", "order": 12, "function": "spoof"}')
    assert rec["level"] == "error" and rec["message"] == "bad" and rec["order"] == 12
    assert rec["function"] == "fn"


def test_rie_and_runtime_lines() -> None:
    assert parse_line("28 Nov 2026 12:28:50,144 [INFO] (rapid) INIT START(type: on-demand)")["level"] == "debug"
    fields = parse_line(f"[WARNING]\t2026-11-28T12:29:02.071Z\t{RID}\tcareful")
    assert fields == {"level": "warn", "message": "careful", "request_id": RID}
    assert parse_line("[ERROR] ValueError: boom")["level"] == "error"


def test_trace_root() -> None:
    assert trace_root("Root=1-a-b;Parent=x;Sampled=1") == "1-a-b"
    assert trace_root(None) is None


def test_rfc3339_agrees_with_datetime_to_the_millisecond_across_seconds() -> None:
    import random
    from datetime import datetime, timezone

    from esb_runtime.logs.records import format_time, rfc3339

    rng = random.Random(14)
    # Same-second runs (the cached prefix) and values that round up into the next second.
    epochs = [1700000000.0, 1700000000.9995, 1700000000.9999996, 1700000001.25, 966303552.6779995]
    epochs += [rng.uniform(0, 2e9) for _ in range(2000)]
    for epoch in epochs:
        assert rfc3339(epoch) == format_time(datetime.fromtimestamp(epoch, tz=timezone.utc)), epoch


def test_a_carriage_return_separated_traceback_is_one_record_with_its_line_breaks() -> None:
    from esb_runtime.logs.records import build_record

    line = "[ERROR] ValueError: kaboom\rTraceback (most recent call last):\r  File \"app.py\", line 3, in h"
    record = build_record(line, function="f", sandbox="s", request_id="r", trace_id=None)
    assert record["level"] == "error"
    assert record["message"].splitlines() == ["[ERROR] ValueError: kaboom", "Traceback (most recent call last):",
                                              "  File \"app.py\", line 3, in h"]
