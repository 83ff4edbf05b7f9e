"""The sandbox bootstrap's trace carrier: removed from the client context, restored as _X_AMZN_TRACE_ID."""

from __future__ import annotations

import json
import os

import pytest

from esb_runtime.sandbox.bootstrap import TRACE_KEY, split_client_context, wrap_event_handler


def test_carrier_only_means_no_client_context() -> None:
    raw = json.dumps({"custom": {TRACE_KEY: "Root=1-a-b"}})
    assert split_client_context(raw) == (None, "Root=1-a-b")


def test_callers_context_is_kept() -> None:
    raw = json.dumps({"custom": {TRACE_KEY: "Root=1-a-b", "k": "v"}, "env": {"x": "y"}})
    restored, trace = split_client_context(raw)
    assert json.loads(restored) == {"custom": {"k": "v"}, "env": {"x": "y"}} and trace == "Root=1-a-b"
    untouched = json.dumps({"client": {"app_title": "t"}})
    assert split_client_context(untouched) == (untouched, None)
    assert split_client_context(None) == (None, None)


def test_wrapper_sets_the_trace_before_the_original_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    seen = {}

    def original(client, handler, invoke_id, body, content_type, client_context_json, *rest):
        seen["trace"] = os.environ.get("_X_AMZN_TRACE_ID")
        seen["cc"] = client_context_json
        seen["rest"] = rest

    wrapped = wrap_event_handler(original)
    wrapped(None, None, "id", b"{}", "application/json", json.dumps({"custom": {TRACE_KEY: "Root=1-x"}}), "more")
    assert seen == {"trace": "Root=1-x", "cc": None, "rest": ("more",)}


def test_wrapper_announces_the_call_and_its_trace_before_the_handler_runs() -> None:
    from esb_runtime.sandbox.bootstrap import BEGIN_MARKER

    out: list[bytes] = []
    wrapped = wrap_event_handler(lambda *args: out.append(b"handler"), out.append)
    wrapped(None, None, "id-1", b"{}", "application/json", json.dumps({"custom": {TRACE_KEY: "Root=1-x\tevil"}}))
    wrapped(None, None, "id-2", b"{}", "application/json", None)
    assert out == [f"{BEGIN_MARKER}id-1\tRoot=1-x evil\n".encode(), b"handler", f"{BEGIN_MARKER}id-2\t\n".encode(),
                   b"handler"]


def test_meter_reports_init_once_and_before_each_answer() -> None:
    from esb_runtime.sandbox import metrics
    from esb_runtime.sandbox.bootstrap import Meter

    now = [0.0]
    written: list[bytes] = []
    posted: list[str] = []
    meter = Meter(clock=lambda: now[0], write=written.append)
    meter.wrap_get_handler(lambda name: None)("app.handler")
    post = meter.wrap_post(lambda *a: posted.append("answer") or bool(written))
    handle = meter.wrap_handle(lambda: post("req-1", "{}"))
    now[0] += 1.0
    assert handle() is True  # the figures were written before the answer was posted
    now[0] += 2.0
    handle()
    first, second = (metrics.parse(line.decode()) for line in written)
    assert first is not None and second is not None
    assert "init_ms" in first and "init_ms" not in second and posted == ["answer", "answer"]
    assert first["request_id"] == second["request_id"] == "req-1"  # awslambdaric's invoke id: pairs with REPORT
    assert first["max_memory_mb"] >= 1


@pytest.mark.parametrize(("duration", "billed"), [(0.2, 1), (1.0, 1), (12.01, 13), (99.99, 100)])
def test_billed_duration_rounds_up_to_the_millisecond(duration: float, billed: int) -> None:
    from esb_runtime.sandbox.metrics import billed_ms

    assert billed_ms(duration) == billed
