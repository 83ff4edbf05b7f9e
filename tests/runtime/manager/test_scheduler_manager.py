"""The scheduler through a real manager (process engine, genuine RIE) with schedule time sped up."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from esb_runtime.manager.process_engine import ProcessEngine
from esb_runtime.manager.scheduler import attach
from esb_runtime.manager.service import Manager
from esb_runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration

HANDLER = """
import json, time

def handler(event, context):
    time.sleep(0.3)  # longer than the 0.25 s firing interval: firings must queue, never overlap a sandbox
    print(json.dumps({"message": "FIRED", "event": event}))
    return {}
"""


def test_rate_fires_event_invocations_through_the_manager(
        tmp_path: Path, rie_path: Path, write_function: Callable[..., Path],
        write_functions_yml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    write_function("tick", HANDLER)
    write_function("other", HANDLER)
    schedules = [{"name": "Tick", "expression": "rate(1 minute)", "input": None, "enabled": True},
                 {"name": "Off", "expression": "rate(1 minute)", "input": '{"off": 1}', "enabled": False}]
    write_functions_yml({"tick": {"schedules": schedules, "reserved_concurrency": 1}, "other": {}})
    out = tmp_path / ".esb"
    monkeypatch.setenv("ESB_OUTPUT_DIR", str(out))
    settings = RuntimeSettings(output_dir=out, manager_socket=out / "state" / "manager.sock", rie_path=rie_path)
    records: list[dict[str, Any]] = []
    manager = Manager(settings, ProcessEngine(rie_path), records.extend)
    scheduler = attach(manager, scale=240)  # one schedule minute = 0.25 s
    try:
        deadline = time.monotonic() + 30
        fired: list[dict[str, Any]] = []
        while time.monotonic() < deadline and len(fired) < 3:
            time.sleep(0.2)
            fired = [r for r in list(records) if r.get("source") == "sandbox" and r.get("message") == "FIRED"]
        # A reload that drops the schedule stops the firings.
        write_functions_yml({"tick": {"reserved_concurrency": 1}, "other": {}})
        manager.reload(force=True)
        time.sleep(1.5)
        settled = len([r for r in list(records) if r.get("message") == "schedule Tick fired"])
        time.sleep(1.0)
        after = len([r for r in list(records) if r.get("message") == "schedule Tick fired"])
    finally:
        scheduler.stop()
        manager.close()
    assert len(fired) >= 3
    assert {r["function"] for r in fired} == {"tick"}
    event = fired[0]["event"]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/tick-Tick"]
    assert not any(r.get("event") == {"off": 1} for r in fired)
    assert {r["sandbox"] for r in fired} and len({r["sandbox"] for r in fired}) == 1  # concurrency 1: one sandbox
    assert after == settled
    manager_records = [r for r in records if r.get("message") == "schedule Tick fired"]
    assert manager_records and manager_records[0]["source"] == "manager"
    json.dumps(records)  # every record is JSON-serialisable, as the log store needs
