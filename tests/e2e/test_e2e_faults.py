"""kill -9 of each part of a real process-engine box: the supervisor brings it back; nothing is orphaned.

Recovery is asserted with a generous bound (20 s); how fast it is, is measured by bench/faults.py."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from boxkit import Box, copy_app, esb, eventually, free_ports_env, processes_under, running_box
from esb.box.processes import pid_alive
from esb_runtime import procfs
from esb_runtime.manager.registry import SandboxRegistry

pytestmark = pytest.mark.integration

BOUND_S = 20.0


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("sample", tmp_path_factory.mktemp("faults"))
    with running_box(project) as running:
        yield running


def status_code(box: Box, path: str = "/hello") -> int | None:
    try:
        return box.client.get(path, timeout=5.0).status_code
    except httpx.HTTPError:  # refused or reset while the gateway restarts
        return None


def pid_of(box: Box, name: str) -> int:
    return next(p["pid"] for p in box.refresh()["processes"] if p["name"] == name)


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def sandbox_sessions(box: Box) -> list[int]:
    return [entry.sid for entry in SandboxRegistry.of_box(box.project / ".esb" / "state").entries()]


def restarts(box: Box, name: str) -> int:
    return next(p["restarts"] for p in box.refresh()["processes"] if p["name"] == name)


def test_gateway_master_killed_serves_again(box: Box) -> None:
    assert status_code(box) == 200
    old = pid_of(box, "gateway")
    kill(old)
    assert eventually(lambda: status_code(box) == 200 and pid_of(box, "gateway") != old, BOUND_S)
    assert restarts(box, "gateway") == 1
    assert eventually(lambda: box.refresh()["state"] == "running", BOUND_S)


def test_manager_killed_serves_again_with_fresh_sandboxes(box: Box) -> None:
    assert status_code(box) == 200
    warm = sandbox_sessions(box)
    assert warm
    kill(pid_of(box, "manager"))
    # A call may still be served at once on a lease the gateway kept (its sandbox not yet gone): wait for the
    # supervisor's restart, then for a 200 from the new manager's sandboxes.
    assert eventually(lambda: restarts(box, "manager") == 1, BOUND_S)
    assert eventually(lambda: status_code(box) == 200, BOUND_S)
    # The warm sandboxes died with their manager (PDEATHSIG) or were swept by the new one: none is left.
    assert eventually(lambda: all(procfs.members(sid=sid) == [] for sid in warm), BOUND_S)
    assert not set(sandbox_sessions(box)) & set(warm)


def test_stores_killed_come_back(box: Box) -> None:
    dynamodb = box.boto3("dynamodb")
    assert "sample-items" in dynamodb.list_tables()["TableNames"]
    kill(pid_of(box, "stores"))
    health = box.status["stores"]["s3_endpoint"] + "/_esb/health"

    def back() -> bool:
        try:
            return httpx.get(health, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert eventually(back, BOUND_S)
    assert restarts(box, "stores") == 1
    assert eventually(lambda: box.client.get("/health").status_code == 200, BOUND_S)


def test_manager_restart_recovery(box: Box) -> None:
    """The upstream scenario: the manager dies under a client that retries for up to 30 s, which gets its 200."""
    kill(pid_of(box, "manager"))
    seen: list[int | None] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.append(status_code(box))
        if seen[-1] == 200:
            break
        time.sleep(0.1)
    assert seen[-1] == 200
    assert set(seen[:-1]) <= {502, 503}  # the outage answers as API Gateway would, never hangs or resets


def test_status_and_health_tell_the_truth_and_up_repairs(box: Box) -> None:
    supervisor = box.refresh()["supervisor"]["pid"]
    kill(supervisor)  # nobody restarts the manager now
    assert eventually(lambda: not pid_alive(supervisor), 5)
    kill(pid_of(box, "manager"))
    status = eventually(lambda: (s := box.refresh())["state"] == "degraded" and
                        {d["part"] for d in s["degraded"]} == {"manager", "supervisor"} and s, BOUND_S)
    assert status and status["running"] is True  # the old key stays true: the box is there, just not whole
    health = eventually(lambda: (a := box.client.get("/health")).status_code == 503 and a, BOUND_S)
    assert health and "manager" in health.json()["reason"]
    text = io.StringIO()
    with redirect_stdout(text):
        esb(box.project, "status")
    assert "box: degraded" in text.getvalue() and "manager" in text.getvalue()
    text = io.StringIO()
    with redirect_stdout(text):
        assert esb(box.project, "up", "-d", "--engine", "process") == 0
    assert "repairing" in text.getvalue() and "already running" not in text.getvalue()
    assert box.refresh()["state"] == "running"
    assert status_code(box) == 200
    assert eventually(lambda: box.client.get("/health").status_code == 200, BOUND_S)  # each worker caches 1 s


def test_down_after_a_killed_manager_leaves_no_sandbox(tmp_path: Path) -> None:
    project = copy_app("sample", tmp_path)
    with running_box(project) as fresh:
        assert status_code(fresh) == 200
        warm = sandbox_sessions(fresh)
        pids = [p["pid"] for p in fresh.refresh()["processes"]] + [fresh.status["supervisor"]["pid"]]
        assert warm and processes_under(project / ".esb")
        kill(pid_of(fresh, "manager"))
        assert esb(project, "down") == 0  # at once: the supervisor may be restarting the manager right now
    assert not any(pid_alive(pid) for pid in pids)
    assert all(procfs.members(sid=sid) == [] for sid in warm)
    assert processes_under(project) == []
    assert not list((project / ".esb" / "state" / "sandboxes").glob("*.json"))


def test_foreground_up_outlives_a_killed_part_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    project = copy_app("sample", tmp_path)
    env = {**os.environ, **free_ports_env()}
    up = subprocess.Popen([sys.executable, "-m", "esb.cli", "-t", str(project / "template.yaml"), "up",
                           "--engine", "process"], cwd=project, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    state_file = project / ".esb" / "state" / "box.json"
    try:
        def state() -> dict:
            try:
                return json.loads(state_file.read_text())
            except (OSError, ValueError):
                return {}

        assert eventually(lambda: (state().get("supervisor") or {}).get("pid"), 120), "the box did not start"
        manager = next(p["pid"] for p in state()["procs"] if p["name"] == "manager")
        kill(manager)
        assert eventually(lambda: (state().get("health") or {}).get("manager", {}).get("restarts") == 1
                          and (state().get("health") or {}).get("manager", {}).get("state") == "up", BOUND_S)
        assert up.poll() is None  # the foreground box lives on: its supervisor brought the manager back
        pids = [p["pid"] for p in state()["procs"]] + [state()["supervisor"]["pid"]]
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
            esb(project, "down")
    assert up.returncode == 0, output
    assert "stopped supervisor" in output
    assert not any(pid_alive(pid) for pid in pids)
    assert not state_file.exists() and processes_under(project) == []
