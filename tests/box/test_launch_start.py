"""esb.box.launch's start: a failed start leaves nothing behind (the supervisor first, then every part it or `up`
started), and `esb up -d` returns a box that serves, is supervised and has its template's resources."""

from __future__ import annotations

import gc
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from boxkit import copy_app, running_box
from esb.box import launch
from esb.box import state as boxstate
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


def test_the_collector_is_paused_while_up_runs_and_back_after_it_returned_or_failed() -> None:
    seen: list[bool] = []

    @launch._collector_paused()
    def start(fail: bool) -> None:
        seen.append(gc.isenabled())
        if fail:
            raise RuntimeError("part exited")

    assert gc.isenabled()
    start(False)
    with pytest.raises(RuntimeError):
        start(True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()  # someone else's choice stands
    try:
        start(False)
        assert not gc.isenabled()
    finally:
        gc.enable()


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
