"""A per-function pool of sandboxes with exclusive leases: one in-flight request per sandbox, ever."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from esb_runtime.errors import TooManyRequests


@dataclass(eq=False)
class Slot:
    """The manager's record of one sandbox."""

    sandbox: Any  # esb_runtime.engine.Sandbox (anything with .id in tests)
    hash: str
    state: str = "idle"  # idle | busy | stopped
    invocations: int = 0
    last_used: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # manager-private: log router, connection

    @property
    def id(self) -> str:
        return str(self.sandbox.id)


class Pool:
    """Leases slots exclusively; starts sandboxes up to `max_size`; waiters get TooManyRequests after the timeout."""

    def __init__(self, function: str, *, current_hash: str, max_size: int, acquire_timeout_s: float,
                 start: Callable[[], Slot], stop: Callable[[Slot], None], alive: Callable[[Slot], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.function = function
        self.current_hash = current_hash
        # 0 is ReservedConcurrentExecutions: 0, which on AWS throttles every call.
        self.max_size = max(0, max_size)
        self.acquire_timeout_s = acquire_timeout_s
        self._start, self._stop, self._alive, self._clock = start, stop, alive, clock
        self._cond = threading.Condition()
        self._idle: list[Slot] = []  # LIFO: the most recently used is reused first, the rest can go idle
        self._busy: set[Slot] = set()
        self._starting = 0
        self.closed = False

    def configure(self, current_hash: str, max_size: int) -> None:
        """A reload: new hash and size; idle sandboxes of an old hash stop now, busy ones on release."""
        with self._cond:
            self.current_hash = current_hash
            self.max_size = max(0, max_size)
            stale = [s for s in self._idle if s.hash != current_hash]
            self._idle = [s for s in self._idle if s.hash == current_hash]
            self._cond.notify_all()
        self._stop_all(stale)

    def acquire(self, timeout_s: float | None = None) -> Slot:
        deadline = self._clock() + (self.acquire_timeout_s if timeout_s is None else timeout_s)
        discard: list[Slot] = []
        try:
            with self._cond:
                while True:
                    if self.closed:
                        raise TooManyRequests(f"{self.function}: the manager is shutting down")
                    if self.max_size == 0:
                        raise TooManyRequests(f"{self.function}: reserved concurrency is 0, every call is throttled")
                    slot = self._take_idle(discard)
                    if slot is not None:
                        return slot
                    if len(self._busy) + self._starting < self.max_size:
                        self._starting += 1
                        break
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        raise TooManyRequests(
                            f"{self.function}: all {self.max_size} sandboxes busy for {self.acquire_timeout_s:g} s")
                    self._cond.wait(remaining)
        finally:
            self._stop_all(discard)
        return self._start_new()

    def _take_idle(self, discard: list[Slot]) -> Slot | None:
        while self._idle:
            slot = self._idle.pop()
            if slot.hash != self.current_hash or not self._alive(slot):
                slot.state = "stopped"
                discard.append(slot)  # killed from outside or rebuilt: replace it
                continue
            slot.state = "busy"
            self._busy.add(slot)
            return slot
        return None

    def _start_new(self) -> Slot:
        try:
            slot = self._start()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            slot.state = "busy"
            self._busy.add(slot)
            late_close = self.closed
        if late_close:
            self.release(slot, reusable=False)
            raise TooManyRequests(f"{self.function}: the manager is shutting down")
        return slot

    def release(self, slot: Slot, *, reusable: bool) -> None:
        with self._cond:
            self._busy.discard(slot)
            slot.last_used = self._clock()
            keep = reusable and not self.closed and slot.hash == self.current_hash and slot.state == "busy"
            slot.state = "idle" if keep else "stopped"
            if keep:
                self._idle.append(slot)
            self._cond.notify()
        if not keep:
            self._stop_all([slot])

    def reap(self, idle_timeout_s: float) -> int:
        """Stop idle sandboxes unused for `idle_timeout_s` and idle ones that died; return how many."""
        now = self._clock()
        with self._cond:
            gone = [s for s in self._idle if now - s.last_used >= idle_timeout_s or not self._alive(s)]
            self._idle = [s for s in self._idle if s not in gone]
            for slot in gone:
                slot.state = "stopped"
            if gone:
                self._cond.notify_all()
        self._stop_all(gone)
        return len(gone)

    def close(self) -> None:
        """Stop every sandbox, busy ones included (their callers see a crash)."""
        with self._cond:
            self.closed = True
            victims = self._idle + list(self._busy)
            self._idle = []
            for slot in victims:
                slot.state = "stopped"
            self._cond.notify_all()
        self._stop_all(victims)

    def slots(self) -> list[Slot]:
        with self._cond:
            return list(self._busy) + list(self._idle)

    def size(self) -> int:
        with self._cond:
            return len(self._busy) + len(self._idle) + self._starting

    def _stop_all(self, slots: list[Slot]) -> None:
        for slot in slots:
            self._stop(slot)
