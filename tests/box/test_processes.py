"""Process supervision: spawn detached, stop the whole group, readiness waits, ports."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from esb.box import state as boxstate
from esb.box.state import BoxState
from esb.box.processes import Proc, free_port, pid_alive, port_free, spawn, stop, tail, wait_until


def test_spawn_then_stop_kills_the_group_including_children(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time\n"
        f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(child_pid_file)!r}, 'w').write(str(c.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = spawn("worker", [sys.executable, "-c", script], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                 log_dir=tmp_path / "logs")
    assert wait_until(lambda: child_pid_file.exists() and child_pid_file.read_text(), 10)
    child = int(child_pid_file.read_text())
    assert proc.alive() and pid_alive(child)
    assert wait_until(lambda: "ready" in tail(proc.log_file), 10)
    stop(proc, grace_s=5)
    assert not proc.alive()
    assert wait_until(lambda: not pid_alive(child), 5)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('armed', flush=True)\ntime.sleep(60)\n"
    proc = spawn("stubborn", [sys.executable, "-c", script], env={}, cwd=tmp_path, log_dir=tmp_path)
    assert wait_until(lambda: "armed" in tail(proc.log_file), 10)
    stop(proc, grace_s=0.5)
    assert not proc.alive()


def test_ports() -> None:
    port = free_port()
    assert port_free("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not port_free("127.0.0.1", port)


def test_box_state_round_trip_and_torn_file(tmp_path: Path) -> None:
    state = BoxState(project="p", engine="process", gateway_url="https://127.0.0.1:1", ca_file="ca",
                     s3_endpoint="s3", dynamodb_endpoint="ddb", lambda_endpoint="l", region="us-east-1",
                     started_at=1.0, procs=(Proc("gateway", 999999, "g.out"),))
    boxstate.write(tmp_path, state)
    assert boxstate.read(tmp_path) == state
    assert state.running() == []  # no such pid
    boxstate.state_file(tmp_path).write_text("{not json")
    assert boxstate.read(tmp_path) is None
    boxstate.clear(tmp_path)
    assert boxstate.read(tmp_path) is None
