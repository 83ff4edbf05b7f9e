"""Per-function circuit breaker: after N consecutive crashes or timeouts, refuse calls (502) for a window."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from esb_runtime.errors import CircuitOpen
from esb_runtime.manager.invoke import CRASH, INIT_ERROR, TIMEOUT

FAILURES = frozenset({CRASH, TIMEOUT, INIT_ERROR})  # a handled function error is the function working
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Breaker:
    """closed -> (N failures in a row) -> open -> (window passed) -> half_open: one trial call decides.

    While open, calls fail fast without starting sandboxes (a crash loop would otherwise start and kill
    one per call). `failures` = 0 turns the breaker off.
    """

    def __init__(self, function: str, failures: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.function, self.threshold, self.window_s, self._clock = function, failures, window_s, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is in flight

    def admit(self) -> bool:
        """Raise CircuitOpen when the function must not be called now; True when this call is the trial."""
        with self._lock:
            if self._opened_at is None:
                return False
            left = self._opened_at + self.window_s - self._clock()
            if left > 0:
                raise CircuitOpen(f"{self.function} crashed or timed out {self._failures} times in a row; "
                                  f"not called for another {left:.1f} s")
            if self._trial:
                raise CircuitOpen(f"{self.function} is in a crash loop; a trial call is in flight")
            self._trial = True
            return True

    def record(self, outcome: str | None, trial: bool = False) -> None:
        """The outcome of an admitted call; None when it never reached the function (no verdict)."""
        with self._lock:
            if trial:
                self._trial = False
            if outcome is None:
                return
            if outcome not in FAILURES:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self.threshold > 0 and (trial or self._failures >= self.threshold):
                self._opened_at = self._clock()

    def clean(self) -> bool:
        """Closed with no failure since the last success: a lease may serve several calls unreported."""
        with self._lock:
            return self._failures == 0 and self._opened_at is None

    def reset(self) -> None:
        """A rebuilt function gets a fresh start."""
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def state(self) -> dict[str, Any]:
        with self._lock:
            if self._opened_at is None:
                return {"state": CLOSED, "failures": self._failures}
            left = self._opened_at + self.window_s - self._clock()
            if left > 0:
                return {"state": OPEN, "failures": self._failures, "retry_in_s": round(left, 1)}
            return {"state": HALF_OPEN, "failures": self._failures}
