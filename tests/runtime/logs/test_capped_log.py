"""A part's log file: written by the part itself through O_APPEND, rotated in place by `cap` (copy, then truncate)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from esb.box.processes import spawn, wait_until
from esb_runtime.logs.capped import cap


def lines(count: int, start: int = 0) -> bytes:
    return b"".join(f"line {n} ".encode() + b"x" * 40 + b"\n" for n in range(start, start + count))


def test_a_file_within_its_cap_or_missing_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "part.out"
    assert not cap(path, max_bytes=100)
    path.write_bytes(b"x" * 100)
    assert not cap(path, max_bytes=100)
    assert path.read_bytes() == b"x" * 100 and sorted(p.name for p in tmp_path.iterdir()) == ["part.out"]


def test_over_its_cap_the_newest_whole_lines_move_to_dot_1_and_the_file_empties(tmp_path: Path) -> None:
    path = tmp_path / "part.out"
    path.write_bytes(lines(100))
    assert cap(path, max_bytes=1000, keep=2)
    kept = (tmp_path / "part.out.1").read_bytes()
    assert path.read_bytes() == b""
    assert len(kept) <= 1000 and kept.startswith(b"line ") and kept.endswith(b"line 99 " + b"x" * 40 + b"\n")
    assert lines(100).endswith(kept)


def test_rotation_keeps_at_most_keep_older_files_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "part.out"
    for round_ in range(4):
        path.write_bytes(lines(30, start=round_ * 100))
        assert cap(path, max_bytes=500, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.out", "part.out.1", "part.out.2"]
    assert b"line 329 " in (tmp_path / "part.out.1").read_bytes()
    assert b"line 229 " in (tmp_path / "part.out.2").read_bytes()


def test_keep_zero_only_truncates(tmp_path: Path) -> None:
    path = tmp_path / "part.out"
    path.write_bytes(lines(50))
    assert cap(path, max_bytes=100, keep=0)
    assert path.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["part.out"]


def test_a_writer_goes_on_at_the_new_end_of_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "part.out"
    writer = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # as spawn gives it to a part
    try:
        os.write(writer, lines(100))
        assert cap(path, max_bytes=1000, keep=1)
        os.write(writer, b"after the rotation\n")
    finally:
        os.close(writer)
    assert path.read_bytes() == b"after the rotation\n"  # no hole of zeros where the old bytes were


def test_a_spawned_part_writes_stdout_and_stderr_into_its_file(tmp_path: Path) -> None:
    script = "import sys; print('hello from the part', flush=True); print('to stderr', file=sys.stderr)"
    proc = spawn("part", [sys.executable, "-c", script], env={}, cwd=tmp_path, log_dir=tmp_path)
    out = Path(proc.log_file)
    assert wait_until(lambda: len(out.read_text().splitlines()) == 2, 10)
    assert out.read_text().splitlines() == ["hello from the part", "to stderr"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.out"]  # nothing else: no pump, no pump log
    assert out.stat().st_mode & 0o077 == 0
