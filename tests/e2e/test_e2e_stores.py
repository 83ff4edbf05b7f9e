"""End to end: store data survives `esb down` + `esb up`, `down --volumes` deletes it; logs lose no line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from boxkit import Box, copy_app, esb, running_box

pytestmark = pytest.mark.integration


def _store(box: Box, op: str, payload: dict) -> object:
    answer = box.client.post(f"/store/{op}", json=payload)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _write(box: Box) -> None:
    _store(box, "put", {"item": {"pk": "keep", "sk": "1", "owner": "zoe"}, "key": "kept.txt", "body": "still here"})


def _read(box: Box) -> object:
    return _store(box, "get", {"key": {"pk": "keep", "sk": "1"}, "object": "kept.txt"})


def test_data_survives_down_up_and_volumes_deletes_it(tmp_path: Path) -> None:
    project = copy_app("e2e", tmp_path)
    with running_box(project) as box:
        _write(box)
        table = box.status["stores"]
    with running_box(project) as box:
        got = _read(box)
        assert got["item"] == {"pk": "keep", "sk": "1", "owner": "zoe"}
        assert got["object"] == "still here" and got["content_type"] == "text/plain"
        assert _store(box, "query", {"owner": "zoe"}) == ["1"]
    assert table["data_dir"]
    assert esb(project, "down", "--volumes") == 0
    assert not Path(table["data_dir"]).exists()
    with running_box(project) as box:
        answer = box.client.post("/store/get", json={"key": {"pk": "keep", "sk": "1"}, "object": "kept.txt"})
        assert answer.status_code == 502  # NoSuchKey inside the handler: the object is gone
        assert _store(box, "query", {"owner": "zoe"}) == []


def test_ten_thousand_lines_are_all_logged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_app("e2e", tmp_path)
    with running_box(project) as box:
        started = time.monotonic()
        answer = box.client.get("/respond/spam", params={"marker": "flood-7"})
        assert answer.status_code == 200 and answer.text == "printed"
        assert time.monotonic() - started < 30
        count = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            capsys.readouterr()
            assert esb(project, "logs", "e2e-responses", "--grep", "flood-7 line", "--json") == 0
            lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
            count = len({r["message"] for r in lines})
            if count >= 10000:
                break
            time.sleep(0.5)
        assert count == 10000
        assert box.client.get("/respond/text").status_code == 200


def test_reset_yes_deletes_data_and_starts_a_fresh_box(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_app("e2e", tmp_path)
    with running_box(project) as box:
        _write(box)
        capsys.readouterr()
        assert esb(project, "reset", "--yes") == 0
        out = capsys.readouterr().out
        assert "reset: " in out and "deleted" in out
        fresh = box.refresh()
        assert fresh["running"] is True
        assert "e2e-items-test" in fresh["stores"]["tables"]
        assert _store(box, "query", {"owner": "zoe"}) == []


def test_reset_without_yes_outside_a_terminal_deletes_nothing(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_app("sample", tmp_path)
    (project / ".esb" / "data").mkdir(parents=True)
    marker = project / ".esb" / "data" / "keep"
    marker.write_text("x")
    assert esb(project, "reset") != 0
    assert "--yes" in capsys.readouterr().err
    assert marker.exists()
