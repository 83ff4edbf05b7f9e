"""One-off work in a forked child: its result is an exit status, its imports stay in the child."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from esb_runtime.forked import run_forked


def _fail() -> None:
    raise ValueError("no")


def test_work_runs_in_a_child_and_its_imports_stay_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "forked_only_here.py").write_text("LOADED = True\n")
    (tmp_path / "done").unlink(missing_ok=True)
    monkeypatch.syspath_prepend(str(tmp_path))

    def work() -> None:
        importlib.import_module("forked_only_here")
        (tmp_path / "done").write_text("yes")

    assert run_forked(work) is True
    assert (tmp_path / "done").read_text() == "yes"  # it ran
    assert "forked_only_here" not in sys.modules  # and what it imported stayed in the child


def test_a_failure_is_false_here_and_explained_by_the_child(capfd: pytest.CaptureFixture[str]) -> None:
    assert run_forked(_fail) is False
    assert "ValueError: no" in capfd.readouterr().err
