"""Tests of VictoriaLogsStore against a tiny fake VictoriaLogs on loopback that checks the wire format."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Iterator

import pytest

from esb_runtime.logs.factory import open_store
from esb_runtime.logs.stores import LogQuery
from esb_runtime.logs.victorialogs import VictoriaLogsStore
from esb_runtime.settings import RuntimeSettings
from fakes import FakeVictoriaLogs


@pytest.fixture
def fake() -> Iterator[FakeVictoriaLogs]:
    server = FakeVictoriaLogs()
    yield server
    server.stop()


def rec(i: int, function: str = "fn") -> dict:
    return {"time": f"2024-05-01T12:00:{i:02d}.000Z", "level": "INFO", "source": "sandbox", "function": function,
            "request_id": f"r{i}", "trace_id": "1-a-b", "message": f"hello {i}"}


def test_insert_format(fake: FakeVictoriaLogs) -> None:
    store = VictoriaLogsStore(fake.url, batch_size=2, flush_interval_s=0.05)
    store.write([rec(0), rec(1), rec(2)])
    store.close()
    assert sum(len(i["lines"]) for i in fake.inserts) == 3
    first = fake.inserts[0]
    assert first["params"] == {"_stream_fields": ["function,source"], "_msg_field": ["message"],
                               "_time_field": ["time"]}
    assert first["content_type"] == "application/stream+json"
    assert first["lines"][0] == rec(0)
    assert all(len(i["lines"]) <= 2 for i in fake.inserts)


def test_query_maps_back_and_filters(fake: FakeVictoriaLogs) -> None:
    store = VictoriaLogsStore(fake.url, flush_interval_s=0.05)
    store.write([rec(i, "fn" if i % 2 else "other") for i in range(6)])
    store.flush()
    got = list(store.query(LogQuery(function="fn", since=datetime(2024, 5, 1, 12, 0, 2, tzinfo=timezone.utc),
                                    grep="hello", limit=5)))
    assert [r["request_id"] for r in got] == ["r3", "r5"]
    assert got[0]["message"] == "hello 3" and got[0]["time"] == "2024-05-01T12:00:03.123Z"
    assert "_stream" not in got[0]
    sent = fake.queries[-1]
    assert 'function:="fn"' in sent["query"][0]
    assert "_time:>=2024-05-01T12:00:02.000Z" in sent["query"][0]
    assert "| limit 5" in sent["query"][0]
    assert sent["start"] == ["2024-05-01T12:00:02.000Z"]
    store.close()


def test_full_queue_and_failures_are_counted_not_raised(fake: FakeVictoriaLogs) -> None:
    store = VictoriaLogsStore(fake.url, batch_size=1000, flush_interval_s=60, max_queue=3)
    store.write([rec(i) for i in range(5)])
    assert store.dropped == 2
    fake.fail = True
    store.flush()
    assert store.dropped == 5
    store.close()


def test_follow_yields_new_records_once(fake: FakeVictoriaLogs) -> None:
    store = VictoriaLogsStore(fake.url, flush_interval_s=0.02, poll_s=0.02)
    store.write([rec(0)])
    store.flush()
    stop = threading.Event()
    seen: list[dict] = []

    def reader() -> None:
        for record in store.follow(LogQuery(), stop):
            seen.append(record)
            if len(seen) >= 2:
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    store.write([rec(1)])
    store.flush()
    thread.join(timeout=10)
    stop.set()
    assert [r["request_id"] for r in seen] == ["r0", "r1"]
    store.close()


def test_open_store_victorialogs(fake: FakeVictoriaLogs, tmp_path) -> None:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m", rie_path=None,
                               log_store="victorialogs", victorialogs_url=fake.url)
    store = open_store(settings)
    assert isinstance(store, VictoriaLogsStore)
    store.close()
    with pytest.raises(ValueError):
        open_store(RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m", rie_path=None,
                                   log_store="victorialogs"))
