"""The log pump's command line, and the pump as the box runs it: a script in isolated mode, without site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from esb.box.processes import spawn, wait_until
from esb_runtime.logs.capped import KEEP, MAX_BYTES, parse


def test_parse_takes_the_file_and_optional_limits() -> None:
    assert parse(["out.log"]) == ("out.log", MAX_BYTES, KEEP)
    assert parse(["--max-bytes", "10", "--keep", "1", "out.log"]) == ("out.log", 10, 1)


@pytest.mark.parametrize("args", [[], ["--keep", "x", "f"], ["--max-bytes", "1"], ["a", "b"], ["--other", "1", "f"]])
def test_parse_refuses_anything_else(args: list[str]) -> None:
    with pytest.raises(ValueError, match="usage"):
        parse(args)


def test_bad_arguments_are_one_line_and_status_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "esb_runtime.logs.capped", "--keep", "x", str(tmp_path / "f")],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--keep" in done.stderr


def test_a_spawned_part_writes_through_its_pump(tmp_path: Path) -> None:
    script = "import sys; print('hello from the part'); print('to stderr', file=sys.stderr)"
    proc = spawn("part", [sys.executable, "-c", script], env={}, cwd=tmp_path, log_dir=tmp_path)
    out = Path(proc.log_file)
    assert wait_until(lambda: out.exists() and len(out.read_text().splitlines()) == 2, 10)
    assert sorted(out.read_text().splitlines()) == ["hello from the part", "to stderr"]  # stdout is buffered
    assert (tmp_path / "part.pump.err").read_text() == ""
