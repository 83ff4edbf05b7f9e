"""The record of a passed TLS check: it answers for the same files, names and time window, and for nothing else."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from esb_runtime.tls import ensure_tls
from esb_runtime.tls_checked import RECORD, TlsFiles, current


def checked(tmp_path: Path) -> Path:
    tls_dir = tmp_path / "tls"
    ensure_tls(tls_dir, ["box.local", "127.0.0.1"])
    return tls_dir


def test_a_check_is_recorded_for_its_names_and_any_fewer(tmp_path: Path) -> None:
    tls_dir = checked(tmp_path)
    assert current(tls_dir, ["box.local", "127.0.0.1"])
    assert current(tls_dir, ["127.0.0.1"])  # the gateway asks for its bind address only
    assert not current(tls_dir, ["box.local", "other.local"])


def test_changed_files_a_missing_or_torn_record_or_renewal_time_mean_check_again(tmp_path: Path) -> None:
    tls_dir = checked(tmp_path)
    assert not current(tls_dir, ["box.local"], clock=lambda: time.time() + 400 * 86400)
    (tls_dir / RECORD).write_text("{torn")
    assert not current(tls_dir, ["box.local"])
    ensure_tls(tls_dir, ["box.local"])
    assert current(tls_dir, ["box.local"])
    server = tls_dir / "server.pem"
    server.write_bytes(server.read_bytes().replace(b"-----END", b"\n-----END", 1))
    assert not current(tls_dir, ["box.local"])
    (tls_dir / RECORD).unlink()
    assert not current(tls_dir, ["box.local"])


def test_a_renewal_for_a_new_name_records_it(tmp_path: Path) -> None:
    tls_dir = checked(tmp_path)
    before = (tls_dir / "server.pem").read_bytes()
    ensure_tls(tls_dir, ["new.local"])
    assert (tls_dir / "server.pem").read_bytes() != before  # renewed to name it
    assert current(tls_dir, ["new.local"])


GATEWAY_START = """
import os, sys
from pathlib import Path
from esb_runtime.tls_apart import ensure_tls_apart
forks = []
real_fork = os.fork
os.fork = lambda: forks.append(1) or real_fork()
ensure_tls_apart(Path(sys.argv[1]), ["127.0.0.1"])
print(len(forks), "cryptography" in sys.modules)
"""


def test_a_gateway_start_after_esb_up_checked_them_neither_forks_nor_loads_cryptography(tmp_path: Path) -> None:
    tls_dir = checked(tmp_path)
    out = subprocess.run([sys.executable, "-c", GATEWAY_START, str(tls_dir)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["0", "False"]
    assert TlsFiles.under(tls_dir).cert_file.is_file()
