"""running / degraded / stopped from a box record, with live and dead PIDs."""

from __future__ import annotations

import os
import subprocess
import sys

from esb.box.health import assess, summary
from esb.box.state import BoxState, PartHealth
from esb.box.processes import Proc
from esb_runtime import procfs


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _state(procs: tuple[Proc, ...], supervisor: Proc | None, health: dict | None = None) -> BoxState:
    return BoxState(project="p", engine="process", gateway_url="u", ca_file="", s3_endpoint="", dynamodb_endpoint="",
                    lambda_endpoint="", region="r", started_at=1.0, procs=procs, supervisor=supervisor,
                    health=health or {})


ME = Proc("gateway", os.getpid(), "l", procfs.start_ticks(os.getpid()) or 0)


def test_all_alive_is_running() -> None:
    assert assess(_state((ME,), Proc("supervisor", os.getpid(), "s")))["state"] == "running"


def test_a_dead_part_is_degraded_with_since_and_restarts() -> None:
    dead = Proc("manager", _dead_pid(), "l")
    report = assess(_state((ME, dead), Proc("supervisor", os.getpid(), "s"),
                           {"manager": PartHealth(state="restarting", since=50.0, restarts=2, last_exit=-9)}))
    assert report["state"] == "degraded" and report["since"] == 50.0
    assert report["degraded"] == [{"part": "manager", "state": "restarting", "since": 50.0, "restarts": 2,
                                   "last_exit": -9}]


def test_a_dead_supervisor_is_degraded_and_nothing_alive_is_stopped() -> None:
    gone = Proc("supervisor", _dead_pid(), "s")
    assert "supervisor down" in summary(_state((ME,), gone))
    assert assess(_state((Proc("gateway", _dead_pid(), "l"),), gone))["state"] == "stopped"
    assert assess(None)["state"] == "stopped"


def test_a_reused_pid_is_not_the_recorded_process() -> None:
    stale = Proc("gateway", os.getpid(), "l", start_ticks=(procfs.start_ticks(os.getpid()) or 0) + 1)
    assert not stale.alive() and ME.alive()


def test_a_foreground_box_ends_only_when_stopped_given_up_or_unsupervised(tmp_path) -> None:
    from esb.box import state as boxstate
    from esb.box.launch import STOPPED, ended
    from esb.paths import BuildTree

    tree = BuildTree(tmp_path)
    assert ended(tree) == STOPPED
    me = Proc("supervisor", os.getpid(), "s")
    boxstate.write(tree.state, _state((ME,), me, {"gateway": PartHealth(state="restarting", since=1.0)}))
    assert ended(tree) is None  # being restarted: keep serving
    boxstate.write(tree.state, _state((ME,), me, {"gateway": PartHealth(state="failed", since=1.0)}))
    assert "gave up restarting gateway" in (ended(tree) or "")
    boxstate.write(tree.state, _state((ME,), Proc("supervisor", _dead_pid(), "s")))
    assert "supervisor exited" in (ended(tree) or "")
