"""Tests of the JSON-lines log store: filters, rotation, size cap, follow, several writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from esb_runtime.logs.factory import open_store
from esb_runtime.logs.stores import JsonLinesStore, LogQuery, format_time, parse_owner, trace_root
from esb_runtime.settings import RuntimeSettings

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def rec(i: int, function: str = "fn-a", **extra: object) -> dict:
    base = {
        "time": format_time(T0 + timedelta(seconds=i)),
        "level": "INFO",
        "source": "sandbox",
        "function": function,
        "sandbox": "sb-1",
        "request_id": f"req-{i}",
        "trace_id": f"1-abc-{i % 3}",
        "message": f"line {i}",
    }
    base.update(extra)
    return base


def test_write_then_query_returns_all_in_time_order(tmp_path: Path) -> None:
    store = JsonLinesStore(tmp_path)
    store.write([rec(2), rec(0)])
    store.write([rec(1)])
    got = list(store.query(LogQuery()))
    assert [r["message"] for r in got] == ["line 0", "line 1", "line 2"]
    store.close()


def test_filters(tmp_path: Path) -> None:
    store = JsonLinesStore(tmp_path)
    store.write([rec(i, "fn-a" if i % 2 else "fn-b") for i in range(10)])
    assert {r["function"] for r in store.query(LogQuery(function="fn-a"))} == {"fn-a"}
    assert len(list(store.query(LogQuery(function="fn-a")))) == 5
    since = list(store.query(LogQuery(since=T0 + timedelta(seconds=7))))
    assert [r["request_id"] for r in since] == ["req-7", "req-8", "req-9"]
    by_req = list(store.query(LogQuery(request_id="req-4")))
    assert [r["message"] for r in by_req] == ["line 4"]
    by_trace = list(store.query(LogQuery(trace="Root=1-abc-1;Parent=x;Sampled=1")))
    assert [r["request_id"] for r in by_trace] == ["req-1", "req-4", "req-7"]
    assert len(list(store.query(LogQuery(trace="1-abc-1")))) == 3
    assert [r["message"] for r in store.query(LogQuery(grep="line 1"))] == ["line 1"]
    limited = list(store.query(LogQuery(limit=2)))
    assert [r["message"] for r in limited] == ["line 8", "line 9"]


def test_trace_root() -> None:
    assert trace_root("Root=1-5e-abc;Parent=53995c3f42cd8ad8;Sampled=1") == "1-5e-abc"
    assert trace_root("Self=1-x;Root=1-y;Sampled=0") == "1-y"
    assert trace_root("1-5e-abc") == "1-5e-abc"


def test_rotation_and_total_cap(tmp_path: Path) -> None:
    store = JsonLinesStore(tmp_path, max_bytes=2000, keep=2, max_total_bytes=6000)
    for i in range(200):
        store.write([rec(i, message="x" * 50)])
    files = sorted(tmp_path.glob("*.jsonl"))
    assert 1 < len(files) <= 3
    assert sum(f.stat().st_size for f in files) <= 6000
    got = list(store.query(LogQuery()))
    # The newest record survives pruning; the oldest does not.
    assert got[-1]["request_id"] == "req-199"
    assert got[0]["request_id"] != "req-0"
    store.close()


def test_total_cap_prunes_other_writers_files(tmp_path: Path) -> None:
    old = JsonLinesStore(tmp_path, getpid=lambda: 111)
    old.write([rec(0, message="y" * 3000)])
    old.close()
    store = JsonLinesStore(tmp_path, max_bytes=1000, keep=5, max_total_bytes=2500, getpid=lambda: 222)
    for i in range(1, 10):
        store.write([rec(i, message="x" * 200)])
    assert not list(tmp_path.glob("111-*.jsonl"))
    store.close()


def test_follow_sees_new_lines(tmp_path: Path) -> None:
    store = JsonLinesStore(tmp_path, poll_s=0.02)
    store.write([rec(0)])
    stop = threading.Event()
    seen: list[dict] = []

    def reader() -> None:
        for record in store.follow(LogQuery(function="fn-a"), stop):
            seen.append(record)
            if len(seen) == 3:
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    writer = JsonLinesStore(tmp_path, poll_s=0.02, getpid=lambda: 999999)
    writer.write([rec(1, function="other")])
    writer.write([rec(2)])
    store.write([rec(3)])
    thread.join(timeout=10)
    stop.set()
    assert not thread.is_alive()
    # History first; live records from different writer files arrive per poll, not in global time order.
    assert seen[0]["request_id"] == "req-0"
    assert sorted(r["request_id"] for r in seen[1:]) == ["req-2", "req-3"]


def test_several_processes_write_10000_lines(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from esb_runtime.logs.stores import JsonLinesStore\n"
        "s = JsonLinesStore(Path(sys.argv[1]))\n"
        "w = sys.argv[2]\n"
        "for i in range(0, 2500, 50):\n"
        "    s.write([{'time': '2024-05-01T00:00:00.000Z', 'function': w, 'message': f'{w} {j}'}"
        " for j in range(i, i + 50)])\n"
        "s.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), f"w{n}"]) for n in range(4)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    got = list(JsonLinesStore(tmp_path).query(LogQuery()))
    assert len(got) == 10000
    assert len({r["message"] for r in got}) == 10000
    for path in tmp_path.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)


def test_open_store_local(tmp_path: Path) -> None:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    store = open_store(settings)
    store.write([rec(0)])
    assert list((tmp_path / "logs").glob("*.jsonl"))
    assert len(list(store.query(LogQuery()))) == 1
    store.close()


def test_a_log_owner_gets_the_directory_and_every_file_rotation_makes(tmp_path: Path) -> None:
    # As root (a compose container) the files go to another user; as anyone else only to oneself.
    owner = (4242, 4243) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None,
                               log_owner=f"{owner[0]}:{owner[1]}")
    assert RuntimeSettings.from_env(settings.to_env()).log_owner == settings.log_owner
    store = open_store(settings)
    assert isinstance(store, JsonLinesStore)
    store.max_bytes = 200  # every write after the first rotates to a new file
    for i in range(3):
        store.write([rec(i)])
    store.close()
    files = sorted((tmp_path / "logs").glob("*.jsonl"))
    assert len(files) == 3
    for path in (tmp_path / "logs", *files):
        assert (path.stat().st_uid, path.stat().st_gid) == owner


def test_log_owner_is_uid_colon_gid() -> None:
    assert parse_owner("") is None and parse_owner("1000:100") == (1000, 100)
    with pytest.raises(ValueError, match="ESB_LOG_OWNER='me' must be uid:gid"):
        parse_owner("me")
