"""The compactor: `python -m esb_runtime.stores.compact UPTO PARENT_PID`, started by the stores process.

It rebuilds the data in its own private moto (last snapshot + journal segments up to UPTO), dumps that
as the next snapshot recording UPTO, then deletes the segments it holds. The live server keeps serving.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import signal
import sys
import time

from esb_runtime.stores import journal, recovery, snapshot
from esb_runtime.stores.server import StoresServer, serve
from esb_runtime.stores.settings import StoresSettings

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """A compactor must not outlive its stores process (a restarted one recovers from the same files)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the lock in recovery.exclusive still keeps the files consistent
    if os.getppid() != parent:
        sys.exit(0)


def compact(server: StoresServer, upto: int) -> bool:
    """Fold the journal up to segment `upto` into a new snapshot; False if a snapshot already holds it."""
    data_dir = server.settings.data_dir
    with recovery.exclusive(data_dir):
        # In-process clients: this process exits when done, so their models do not stay.
        state = recovery.recover(data_dir, lambda folder: snapshot.restore(folder, server.client), server.recorder,
                                 server.log, upto=upto, ledger=server.recorder.ledger)
        if state.base >= upto:
            return False
        snapshot.take(data_dir, server.client, state.regions | {"us-east-1"}, journal_upto=upto,
                      pending=state.replay.pending())
        journal.drop_upto(recovery.journal_dir(data_dir), upto)
    return True


def main(argv: list[str]) -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    upto, parent = int(argv[0]), int(argv[1])
    _die_with(parent)
    # Its own moto on a free loopback port, without the public listeners (ports.aws, ports.aws_http): the stores
    # process holds those, and binding them again failed every compaction of a box that has them.
    settings = dataclasses.replace(StoresSettings.from_env(), host="127.0.0.1", port=0, public_tls_port=0,
                                   public_http_port=0)
    server = serve(settings, settings.secrets_file, log=lambda text: print(f"stores compactor: {text}",
                                                                            file=sys.stderr, flush=True))
    server.start_private()
    started = time.monotonic()
    try:
        if compact(server, upto):
            server.log(f"snapshot up to journal segment {upto} in {time.monotonic() - started:.2f}s")
    except Exception as exc:  # the journal still holds everything: report, the stores process retries later
        server.log(f"failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
