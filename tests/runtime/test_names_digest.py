"""sha256 of names without OpenSSL: the digests hashlib gives, with libcrypto left unloaded (issue 14)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from esb_runtime.names_digest import sha256_hex


@pytest.mark.parametrize("text", ["", "esb-deliver-fn-Event", "/srv/box/.esb", "ünïcode ✓" * 50])
def test_the_digest_is_hashlibs(text: str) -> None:
    assert sha256_hex(text) == hashlib.sha256(text.encode()).hexdigest()


def test_it_loads_no_openssl() -> None:
    code = "import sys, esb_runtime.names_digest as d; d.sha256_hex('x'); print('_hashlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
