"""sha256 of short names and ids (sandbox hashes, firewall chains) without loading OpenSSL's libcrypto.

hashlib's sha256 is OpenSSL's, and importing hashlib maps libcrypto: ~3.7 MB of RSS in the manager, which otherwise
never loads it (its API is plain HTTP on a unix socket, its RIEs plain HTTP on loopback; issue 14). CPython builds
its own sha256 in (what hashlib falls back to without OpenSSL): the same digest, a few times slower, which does not
matter for inputs of a few dozen bytes. Files are hashed with hashlib (esb_runtime.digest).
"""

from __future__ import annotations

from typing import Any, Callable

_builtin: Callable[[bytes], Any]
try:
    from _sha256 import sha256 as _builtin  # CPython 3.11
except ImportError:
    try:
        from _sha2 import sha256 as _builtin  # type: ignore[no-redef]  # CPython 3.12 and later
    except ImportError:  # another Python, or a CPython built without them
        from hashlib import sha256 as _builtin  # type: ignore[no-redef]


def sha256_hex(text: str) -> str:
    """Hex sha256 of the text's UTF-8 bytes (as hashlib.sha256(text.encode()).hexdigest())."""
    return _builtin(text.encode()).hexdigest()
