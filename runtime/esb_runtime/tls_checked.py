"""A record that the box's TLS files passed esb_runtime.tls.ensure_tls, so that a start finding the same files,
names and time window skips the check (issue 14: start in a second).

The check loads cryptography (~30 ms of CPU) and verifies signatures, in `esb up` and again in the gateway (in a
forked child, tls_apart.py), on every start, for files that change once a year. Its answer depends only on the
files' bytes, the names asked for and the time; the record holds the first two (the files' SHA-256, the names
the certificate was checked for) and when renewal becomes due. Anything else makes `current` False, and the
full check runs (and records again).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

RECORD = "checked.json"
FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem")


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # ca.pem: exported so clients can trust it
    cert_file: Path  # server.pem
    key_file: Path  # server-key.pem (0600)

    @classmethod
    def under(cls, tls_dir: Path) -> TlsFiles:
        return cls(tls_dir / "ca.pem", tls_dir / "server.pem", tls_dir / "server-key.pem")


def names_of(hostnames: Iterable[str]) -> list[str]:
    """The names ensure_tls certifies for `hostnames` (it adds this machine's name)."""
    return sorted({*hostnames, socket.gethostname()} - {""})


def record(tls_dir: Path, hostnames: Iterable[str], renew_at: float) -> None:
    """The files under tls_dir were checked for hostnames; renewal is due at renew_at (epoch seconds)."""
    data = {"files": _digests(tls_dir), "names": names_of(hostnames), "renew_at": renew_at}
    tmp = tls_dir / f".{RECORD}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, tls_dir / RECORD)


def current(tls_dir: Path, hostnames: Iterable[str], clock: Callable[[], float] = time.time) -> bool:
    """Whether the last check still answers for these files and names now."""
    try:
        data = json.loads((tls_dir / RECORD).read_text(encoding="utf-8"))
        return (clock() < float(data["renew_at"]) and set(names_of(hostnames)) <= set(data["names"])
                and data["files"] == _digests(tls_dir))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _digests(tls_dir: Path) -> dict[str, str]:
    return {name: hashlib.sha256((tls_dir / name).read_bytes()).hexdigest() for name in FILES}
