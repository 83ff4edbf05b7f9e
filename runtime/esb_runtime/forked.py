"""One-off work in a forked child, so what it imports and parses never stays in the caller's memory (issue 14)."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Callable


def run_forked(work: Callable[[], object]) -> bool:
    """Run `work` in a child of this process; whether it returned without raising (the child prints why not).
    Call it before any thread starts (a config module, a process's main): fork copies only the calling thread."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            work()
            code = 0
        except BaseException:  # noqa: BLE001 - the caller reports the failure; the child only explains it
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
