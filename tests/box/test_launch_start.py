"""esb.box.launch's start: a failed start leaves nothing behind (the supervisor first, then every part it or `up`
started), the supervisor booted beside the parts takes them over only when told they are ready, and `esb up -d`
returns a box that serves, is supervised and has its template's resources."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from boxkit import copy_app, running_box
from esb.box import launch
from esb.box import state as boxstate
from esb.box import supervisor as supervisor_main
from esb.box.processes import Proc, spawn, wait_until
from esb.box.state import BoxState
from esb.paths import BuildTree

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _sleeper(name: str, tmp_path: Path) -> Proc:
    return spawn(name, SLEEPER, env={}, cwd=tmp_path, log_dir=tmp_path / "logs")


def test_abort_stops_the_supervisor_then_every_recorded_part_and_clears_the_record(tmp_path: Path) -> None:
    tree = BuildTree(tmp_path / ".esb")
    started = [_sleeper("stores", tmp_path), _sleeper("gateway", tmp_path)]
    # The supervisor restarted the gateway meanwhile: the record names a process `up` never saw.
    restarted = _sleeper("gateway", tmp_path)
    watcher = _sleeper("supervisor", tmp_path)
    state = BoxState(project="app", engine="process", gateway_url="https://127.0.0.1:1", ca_file="ca.pem",
                     s3_endpoint="http://127.0.0.1:2", dynamodb_endpoint="http://127.0.0.1:2",
                     lambda_endpoint="https://127.0.0.1:1", region="us-east-1", started_at=0.0)
    boxstate.write(tree.state, replace(state, procs=(started[0], restarted), supervisor=watcher))
    everyone = [*started, restarted, watcher]
    try:
        launch._abort(tree, started, watcher)
        assert wait_until(lambda: not any(proc.alive() for proc in everyone), 10)
        assert boxstate.read(tree.state) is None
    finally:
        launch._stop_all(everyone)


@pytest.mark.integration
def test_up_returns_a_supervised_box_whose_functions_write_to_its_bucket_at_once(tmp_path: Path) -> None:
    project = copy_app("sample", tmp_path)
    with running_box(project) as box:
        assert box.status["state"] == "running"
        assert box.status["supervisor"]["pid"], box.status
        token = box.token()
        # The first call after `up -d` returned: the table and the bucket are there (provisioning is part of up).
        put = box.client.put("/items/first", json={"n": 1}, headers={"Authorization": f"Bearer {token}"})
        assert put.status_code == 201, put.text
        stored = box.boto3("s3").get_object(Bucket="sample-files", Key="items/first.json")["Body"].read()
        assert b'"first"' in stored


def _waiting_supervisor(tmp_path: Path) -> tuple[subprocess.Popen, BuildTree]:
    """`python -m esb.box.supervisor --after-start` on a recorded box of one sleeping part."""
    tree = BuildTree(tmp_path / ".esb")
    part = _sleeper("stores", tmp_path)
    boxstate.write(tree.state, BoxState(project="app", engine="process", gateway_url="https://127.0.0.1:1",
                                        ca_file="ca.pem", s3_endpoint="http://127.0.0.1:2",
                                        dynamodb_endpoint="http://127.0.0.1:2", lambda_endpoint="https://127.0.0.1:1",
                                        region="us-east-1", started_at=0.0, procs=(part,)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESB_", "AWS_"))}
    proc = subprocess.Popen([sys.executable, "-m", "esb.box.supervisor", supervisor_main.AFTER_START],
                            env={**env, "ESB_OUTPUT_DIR": str(tree.root)}, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, tree


def test_a_supervisor_started_beside_the_parts_takes_them_over_only_when_told_go(tmp_path: Path) -> None:
    proc, tree = _waiting_supervisor(tmp_path)
    part = boxstate.read(tree.state).procs[0]  # type: ignore[union-attr]
    try:
        assert boxstate.read(tree.state).supervisor is None  # type: ignore[union-attr]
        assert proc.stdin is not None
        proc.stdin.write(supervisor_main.GO)
        proc.stdin.close()
        assert wait_until(lambda: (boxstate.read(tree.state).supervisor or Proc("", 0, "")).pid == proc.pid, 10)
    finally:
        proc.terminate()
        proc.wait(10)
        launch._stop_all([part])


def test_a_supervisor_whose_start_failed_exits_without_taking_anything_over(tmp_path: Path) -> None:
    proc, tree = _waiting_supervisor(tmp_path)
    part = boxstate.read(tree.state).procs[0]  # type: ignore[union-attr]
    try:
        _, err = proc.communicate(b"", timeout=30)  # `esb up` closed the pipe without "go"
        assert proc.returncode == 1 and b"did not start" in err
        assert boxstate.read(tree.state).supervisor is None  # type: ignore[union-attr]
        assert part.alive()  # parts are `up`'s to stop (its _abort), not this supervisor's
    finally:
        launch._stop_all([part])
