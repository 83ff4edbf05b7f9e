"""The process engine's sandbox registry: leftovers of a killed manager are found and stopped, nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from esb.box.processes import wait_until
from esb_runtime import procfs
from esb_runtime.manager.registry import Entry, SandboxRegistry

# A stand-in sandbox: a session leader with a child (the RIE and its runtime).
SESSION = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"


def _session() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", SESSION], start_new_session=True)


def test_sweep_kills_the_whole_recorded_session_and_forgets_it(tmp_path: Path) -> None:
    registry = SandboxRegistry.of_box(tmp_path)
    leader = _session()
    try:
        assert wait_until(lambda: len(procfs.members(sid=leader.pid)) == 2, 10)
        registry.add(Entry("sb-1", "fn", "h", leader.pid, procfs.start_ticks(leader.pid) or 0))
        assert [e.sandbox for e in registry.entries()] == ["sb-1"]
        assert [e.sandbox for e in registry.sweep()] == ["sb-1"]
        leader.wait(5)
        assert wait_until(lambda: procfs.members(sid=leader.pid) == [], 5)
        assert registry.entries() == []
    finally:
        leader.kill()
        leader.wait()


def test_sweep_spares_a_process_that_reuses_a_recorded_pid(tmp_path: Path) -> None:
    registry = SandboxRegistry.of_box(tmp_path)
    other = _session()
    try:
        ticks = procfs.start_ticks(other.pid) or 0
        registry.add(Entry("sb-2", "fn", "h", other.pid, ticks + 1_000_000))  # "recorded" long after it started
        assert registry.sweep() == []
        assert other.poll() is None and registry.entries() == []
    finally:
        other.kill()
        other.wait()


def test_torn_entries_are_dropped(tmp_path: Path) -> None:
    registry = SandboxRegistry.of_box(tmp_path)
    registry.directory.mkdir(parents=True)
    (registry.directory / "sb-x.json").write_text("{not json")
    assert registry.entries() == [] and not (registry.directory / "sb-x.json").exists()
