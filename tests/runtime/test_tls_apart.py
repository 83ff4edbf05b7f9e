"""The TLS files made in a child process: same files as ensure_tls, and the caller never loads cryptography."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.tls import ensure_tls
from esb_runtime.tls_apart import ensure_tls_apart

CHECK = """
import sys
from pathlib import Path
from esb_runtime.tls_apart import ensure_tls_apart
cert, key = ensure_tls_apart(Path(sys.argv[1]), ["box.local"])
print(cert, key, "cryptography" in sys.modules, sep="\\n")
"""


def test_makes_the_files_without_loading_cryptography_here(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    out = subprocess.run([sys.executable, "-c", CHECK, str(tls_dir)], capture_output=True, text=True, check=True)
    cert, key, loaded = out.stdout.split()
    assert loaded == "False"
    files = ensure_tls(tls_dir, ["box.local"])  # already valid: the same files, not renewed
    assert (Path(cert), Path(key)) == (files.cert_file, files.key_file)
    assert Path(cert).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_a_failure_in_the_child_is_an_error_here(tmp_path: Path) -> None:
    blocked = tmp_path / "tls"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(RuntimeBoxError, match="cannot make or renew the TLS certificate"):
        ensure_tls_apart(blocked)
