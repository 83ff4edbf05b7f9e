"""Ends a gateway whose gevent hub stopped turning: the one job of gunicorn's master the box's supervisor lacks.

gunicorn's master kills a worker that has not heartbeaten for `timeout` seconds (a greenlet that never yields
wedges every connection of the worker). The single-process gateway (serve.py) has no master, so a native
thread watches the heartbeat instead; the process then exits and the box's supervisor restarts it.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
from typing import Callable

from gevent import monkey


def _stalled(timeout_s: float) -> None:
    # What the hub was stuck in is what the operator needs; then the supervisor restarts the gateway.
    print(f"gateway: no heartbeat for {timeout_s:g} s (a request blocks the event loop); exiting", file=sys.stderr)
    faulthandler.dump_traceback(all_threads=True)
    sys.stderr.flush()
    os._exit(70)


class Watchdog:
    def __init__(self, timeout_s: float, *, clock: Callable[[], float] = time.monotonic,
                 on_stall: Callable[[float], None] = _stalled) -> None:
        self.timeout_s = timeout_s
        self._clock, self._on_stall = clock, on_stall
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def check(self) -> bool:
        """True (and on_stall called) when the last beat is older than the timeout."""
        if self._clock() - self._last <= self.timeout_s:
            return False
        self._on_stall(self.timeout_s)
        return True

    def start(self, interval_s: float = 1.0) -> None:
        """Check from a native thread (the hub being stuck is what it watches for), also after monkey-patching."""
        sleep = monkey.get_original("time", "sleep")
        start_thread = monkey.get_original("_thread", "start_new_thread")

        def loop() -> None:
            while not self.check():
                sleep(interval_s)

        self.beat()
        start_thread(loop, ())
