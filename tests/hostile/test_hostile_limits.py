"""Connection admission and bounded logs: per-source caps, one noise line per source, a flood stays capped on disk."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from esb_runtime.gateway.connections import NoiseLog, SourceGate
from esb.box.processes import spawn
from esb_runtime.logs.capped import cap


def test_source_gate_caps_one_source_and_not_others() -> None:
    gate = SourceGate(per_source=2)
    assert gate.enter("10.0.0.9") and gate.enter("10.0.0.9")
    assert not gate.enter("10.0.0.9")
    assert gate.enter("10.0.0.1")  # another host is not starved by the first
    gate.leave("10.0.0.9")
    assert gate.enter("10.0.0.9") and gate.open_from("10.0.0.9") == 2
    for _ in range(2):
        gate.leave("10.0.0.9")
    assert gate.open_from("10.0.0.9") == 0


def test_noise_log_writes_one_line_per_source_and_interval() -> None:
    lines: list[str] = []
    now = [0.0]
    noise = NoiseLog(lines.append, 60.0, clock=lambda: now[0])
    for _ in range(500):
        noise.report("10.0.0.9", "TLS handshake failed (UNEXPECTED_MESSAGE)")
    noise.report("10.0.0.8", "TLS handshake failed (WRONG_VERSION_NUMBER)")
    assert lines == ["TLS handshake failed (UNEXPECTED_MESSAGE) from 10.0.0.9",
                     "TLS handshake failed (WRONG_VERSION_NUMBER) from 10.0.0.8"]
    now[0] = 61.0
    noise.report("10.0.0.9", "TLS handshake failed (UNEXPECTED_MESSAGE)")
    assert lines[-1].endswith("from 10.0.0.9 (499 more since the last report)")


def test_noise_log_remembers_a_bounded_number_of_sources() -> None:
    noise = NoiseLog(lambda line: None, 60.0, max_sources=10)
    for index in range(1000):
        noise.report(f"10.0.{index // 256}.{index % 256}", "x")
    assert len(noise._seen) == 10


def test_a_part_flooding_its_output_stays_capped_on_disk(tmp_path: Path) -> None:
    """A part prints 20,000 lines (~1 MB) into its log while its watcher caps the file as the supervisor does
    (esb.box.supervisor calls cap every tick): the disk holds at most keep + 1 files of max_bytes each."""
    script = "import sys\nfor i in range(20000): print('noise', i, 'x' * 40)\nsys.exit(3)"
    proc = spawn("flood", [sys.executable, "-c", script], env={}, cwd=tmp_path, log_dir=tmp_path)
    path = Path(proc.log_file)
    rotations = 0
    while proc.alive():
        rotations += cap(path, max_bytes=10_000, keep=2)
        time.sleep(0.002)
    cap(path, max_bytes=10_000, keep=2)
    files = sorted(tmp_path.iterdir())
    assert rotations > 0 and [f.name for f in files] == ["flood.out", "flood.out.1", "flood.out.2"]
    assert all(f.stat().st_size <= 10_000 for f in files)
    newest = path.read_text() or (tmp_path / "flood.out.1").read_text()
    assert newest.rstrip().endswith("noise 19999 " + "x" * 40)
