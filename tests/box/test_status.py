"""`esb status` without a running box: routes and functions from the output tree, credentials once generated."""

from __future__ import annotations

import json
from pathlib import Path

from esb.box import status
from esb.cli import main
from esb.paths import BuildTree
from esb_runtime import secrets as box_secrets

from boxkit import copy_app


def test_status_of_a_built_but_stopped_box(tmp_path: Path, monkeypatch, capsys) -> None:
    project = copy_app("sample", tmp_path)
    monkeypatch.chdir(project)
    assert main(["build"]) == 0
    tree = BuildTree(project / ".esb")
    info = status.collect(tree)
    assert info["running"] is False and info["auth"]["api_key"] is None
    assert {"method": "GET", "path": "/hello", "function": "sample-hello"}.items() <= info["routes"][0].items()
    assert sorted(fn["name"] for fn in info["functions"]) == ["sample-hello", "sample-items", "sample-whoami"]
    keys = box_secrets.ensure(tree.secrets / "box.json")
    info = status.collect(tree)
    assert info["auth"]["api_key"] == keys.api_key
    text = status.render_text(info)
    assert "not running" in text and "/hello" in text and keys.password in text
    capsys.readouterr()
    assert main(["status", "--json"]) == 3  # no box running: the status still prints, the exit code says it
    captured = capsys.readouterr()
    assert json.loads(captured.out)["routes"] and captured.err == ""


def test_state_commands_work_while_the_template_is_broken(tmp_path: Path, monkeypatch, capsys) -> None:
    project = copy_app("sample", tmp_path)
    monkeypatch.chdir(project)
    assert main(["build"]) == 0
    (project / "template.yaml").write_text("Resources:\n\tBroken: [\n")
    assert main(["build"]) == 1  # only build/up/watch load the template
    capsys.readouterr()
    assert main(["status", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["functions"]
    assert main(["down"]) == 3
    assert "no box running" in capsys.readouterr().out
    assert main(["logs"]) == 3
    assert "no logs" in capsys.readouterr().err


def test_secrets_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "box.json"
    first = box_secrets.ensure(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert box_secrets.ensure(path) == first  # generated once, then reused
    assert len(first.password) >= 20 and first.api_key != first.password


def test_status_notes_a_python_runtime_the_host_runs_on_another_version(tmp_path: Path, monkeypatch) -> None:
    from esb_runtime.contract import PythonRecord, write_python_record

    project = copy_app("sample", tmp_path)
    monkeypatch.chdir(project)
    assert main(["build"]) == 0
    tree = BuildTree(project / ".esb")
    runtime = tree.root / "runtimes" / "python3.11"
    assert not any("functions run on Python" in note for note in status.collect(tree)["notes"])
    write_python_record(runtime, PythonRecord(python="/usr/bin/python3.13", version="3.13", runtime="python3.11",
                                              note="python3.11 functions run on Python 3.13 (closest)"))
    assert "python3.11 functions run on Python 3.13 (closest)" in status.collect(tree)["notes"]
