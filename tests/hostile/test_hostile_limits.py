"""Connection admission and bounded logs: per-source caps, one noise line per source, capped rotated files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from esb_runtime.gateway.connections import NoiseLog, SourceGate
from esb_runtime.logs.capped import CappedFile


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


def test_capped_file_rotates_and_never_exceeds_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "gateway.out"
    out = CappedFile(path, max_bytes=1000, keep=2, max_line=200)
    for index in range(2000):
        out.write_line(f"line {index} ".encode() + b"x" * 50 + b"\n")
    out.write_line(b"y" * 5000 + b"\n")
    out.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["gateway.out", "gateway.out.1", "gateway.out.2"]
    assert all(f.stat().st_size <= 1000 for f in files)
    assert b"[line cut]" in path.read_bytes()


def test_capped_file_folds_repeated_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.out"
    out = CappedFile(path)
    for _ in range(1000):
        out.write_line(b"same error\n")
    out.write_line(b"other\n")
    out.close()
    assert path.read_bytes() == b"same error\n[previous line repeated 999 more times]\nother\n"


def test_pump_caps_the_output_piped_into_it(tmp_path: Path) -> None:
    path = tmp_path / "proc.out"
    script = "import sys\nfor i in range(20000): print('noise', i)\nsys.exit(3)"
    pump = subprocess.Popen([sys.executable, "-m", "esb_runtime.logs.capped", "--max-bytes", "10000", "--keep", "1",
                             str(path)], stdin=subprocess.PIPE)
    assert pump.stdin is not None
    code = subprocess.call([sys.executable, "-c", script], stdout=pump.stdin, timeout=60)
    pump.stdin.close()
    assert code == 3 and pump.wait(timeout=60) == 0
    assert path.stat().st_size <= 10000 and (tmp_path / "proc.out.1").stat().st_size <= 10000
    assert not (tmp_path / "proc.out.2").exists()
    assert path.read_text().rstrip().endswith("noise 19999")
