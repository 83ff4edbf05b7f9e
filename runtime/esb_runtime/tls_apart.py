"""The box's TLS files checked (and made or renewed) in a forked child, so the server that serves them never
loads cryptography: ~15 MB of the gateway's RSS for its whole life, for a check that runs once at start
(issue 14)."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Iterable

from esb_runtime.errors import RuntimeBoxError


def ensure_tls_apart(tls_dir: Path, hostnames: Iterable[str] = ()) -> tuple[Path, Path]:
    """esb_runtime.tls.ensure_tls run in a child process; (certificate, key) paths. Call it before any thread
    starts (a config module, a process's main): it forks."""
    names = list(hostnames)
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            from esb_runtime.tls import ensure_tls

            ensure_tls(tls_dir, names)
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reports the failure; the child only explains it
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeBoxError(f"cannot make or renew the TLS certificate under {tls_dir} (the reason is above)")
    return tls_dir / "server.pem", tls_dir / "server-key.pem"
