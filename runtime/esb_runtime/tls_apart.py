"""The box's TLS files checked (and made or renewed) in a forked child, so the server that serves them never
loads cryptography: ~15 MB of the gateway's RSS for its whole life, for a check that runs once at start
(issue 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from esb_runtime import tls_checked
from esb_runtime.errors import RuntimeBoxError
from esb_runtime.forked import run_forked


def _ensure(tls_dir: Path, names: list[str]) -> None:
    from esb_runtime.tls import ensure_tls

    ensure_tls(tls_dir, names)


def ensure_tls_apart(tls_dir: Path, hostnames: Iterable[str] = ()) -> tuple[Path, Path]:
    """esb_runtime.tls.ensure_tls run in a child process; (certificate, key) paths. Call it before any thread
    starts (a config module, a process's main): it forks."""
    names = list(hostnames)
    if tls_checked.current(tls_dir, names):  # checked by `esb up` a moment ago, or by the last start
        return tls_dir / "server.pem", tls_dir / "server-key.pem"
    if not run_forked(lambda: _ensure(tls_dir, names)):
        raise RuntimeBoxError(f"cannot make or renew the TLS certificate under {tls_dir} (the reason is above)")
    return tls_dir / "server.pem", tls_dir / "server-key.pem"
