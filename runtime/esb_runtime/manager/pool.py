"""A per-function pool of sandboxes with exclusive leases: one in-flight request per sandbox, ever."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from esb_runtime.errors import TooManyRequests


FAST_CALLS = 20  # calls this many times shorter than a start count as fast (see _sooner_free)
CALL_OVERHEAD_S = 0.001  # RIE and runtime time per call beyond the function's own (measured ~0.7 ms, issue 14)


@dataclass(eq=False)
class Slot:
    """The manager's record of one sandbox."""

    sandbox: Any  # esb_runtime.engine.Sandbox (anything with .id in tests)
    hash: str
    state: str = "idle"  # idle | busy | stopped
    last_used: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # manager-private: log router, connection

    @property
    def id(self) -> str:
        return str(self.sandbox.id)


class Pool:
    """Leases slots exclusively; starts sandboxes up to `max_size`; waiters get TooManyRequests after the timeout."""

    def __init__(self, function: str, *, current_hash: str, max_size: int, acquire_timeout_s: float,
                 start: Callable[[], Slot], stop: Callable[[Slot], None], alive: Callable[[Slot], bool],
                 clock: Callable[[], float] = time.monotonic, cores: int | None = None,
                 on_shortage: Callable[[], None] | None = None) -> None:
        self.function = function
        self._cores = cores or os.cpu_count() or 1
        self.current_hash = current_hash
        # 0 is ReservedConcurrentExecutions: 0, which on AWS throttles every call.
        self.max_size = max(0, max_size)
        self.acquire_timeout_s = acquire_timeout_s
        self._start, self._stop, self._alive, self._clock = start, stop, alive, clock
        self._on_shortage = on_shortage  # nothing idle for a caller: the manager recalls kept leases
        # Not reentrant (nothing here re-enters it): gevent's plain lock is far cheaper than its RLock.
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[Slot] = []  # LIFO: the most recently used is reused first, the rest can go idle
        self._busy: set[Slot] = set()
        self._starting = 0
        self._waiting = 0  # acquirers blocked in acquire()
        self._leased_at: dict[Slot, float] = {}
        self._kept: set[Slot] = set()  # leases their holder keeps across calls: serving however old
        # Moving averages: how long a sandbox takes per call (observe_call), how long a start takes.
        self._call_s: float | None = None
        self._start_s: float | None = None  # the engine's start; the runtime's init comes with the first call
        self._init_s: float | None = None
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
        if not self._idle and self._on_shortage is not None:
            self._on_shortage()  # outside the lock: it writes to holders' sockets
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
                    room = len(self._busy) + self._starting < self.max_size
                    if room and not self._sooner_free():
                        self._starting += 1
                        break
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        raise TooManyRequests(
                            f"{self.function}: all {self.max_size} sandboxes busy for {self.acquire_timeout_s:g} s")
                    self._waiting += 1
                    try:  # waiting by choice: look again after a start's time at most
                        self._cond.wait(min(remaining, self._cold_s()) if room else remaining)
                    finally:
                        self._waiting -= 1
        finally:
            self._stop_all(discard)
        return self._start_new()

    def observe_call(self, duration_s: float, init_s: float | None = None) -> None:
        """One call's time in the sandbox, as the sandbox measured it (and the runtime's init on a cold call, part
        of what a start costs). Not the lease's length: under a burst that includes the caller's own queueing,
        which more sandboxes would not shorten."""
        with self._cond:
            self._call_s = _average(self._call_s, duration_s + CALL_OVERHEAD_S)
            if init_s is not None:
                self._init_s = _average(self._init_s, init_s)

    def _sooner_free(self) -> bool:
        """Whether a busy sandbox will likely be free before a new one could start (caller holds the lock).

        Only for fast calls (twenty times shorter than a start): a burst of them (200 at once on a warm 2 ms
        function, issue 15) is served sooner by warm sandboxes than by cold starts, which would also take the CPU
        those calls need. Then at least one sandbox per core, one start at a time, and none when the queue drains
        faster than a start takes. Longer calls scale out as Lambda does: a sandbox per concurrent call. A lease
        held ten times longer than a start and a call together does not count as serving (a hung call).
        """
        if not self._start_s or self._call_s is None:
            return False
        cold_s = self._cold_s()
        if self._call_s * FAST_CALLS > cold_s:
            return False
        now = self._clock()
        hung_s = 10 * (cold_s + self._call_s)
        serving = sum(1 for slot, since in self._leased_at.items() if slot in self._kept or now - since < hung_s)
        if serving == 0:
            return False
        if self._starting:
            return True
        if serving < self._cores:
            return False
        return (self._waiting + 1) * self._call_s / serving < cold_s

    def kept(self, slot: Slot) -> None:
        """`slot`'s lease serves calls for as long as its holder keeps it (lease_protocol): never a hung call."""
        with self._cond:
            if slot in self._leased_at:
                self._kept.add(slot)

    def _cold_s(self) -> float:
        """What a new sandbox costs before it answers: the engine's start and the runtime's init."""
        return (self._start_s or 0.0) + (self._init_s or 0.0)

    def acquire_idle(self) -> Slot | None:
        """An idle sandbox now, or None: no wait, no start. Never ahead of waiters (None while any wait)."""
        discard: list[Slot] = []
        try:
            with self._cond:
                if self.closed or self.max_size == 0 or self._waiting:
                    return None  # the waiting path queues fairly and gives the refusals
                return self._take_idle(discard)
        finally:
            self._stop_all(discard)

    def _take_idle(self, discard: list[Slot]) -> Slot | None:
        while self._idle:
            slot = self._idle.pop()
            if slot.hash != self.current_hash or not self._alive(slot):
                slot.state = "stopped"
                discard.append(slot)  # killed from outside or rebuilt: replace it
                continue
            slot.state = "busy"
            self._busy.add(slot)
            self._leased_at[slot] = self._clock()
            return slot
        return None

    def _start_new(self) -> Slot:
        began = self._clock()
        try:
            slot = self._start()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            self._start_s = _average(self._start_s, self._clock() - began)
            slot.state = "busy"
            self._busy.add(slot)
            self._leased_at[slot] = self._clock()
            late_close = self.closed
        if late_close:
            self.release(slot, reusable=False)
            raise TooManyRequests(f"{self.function}: the manager is shutting down")
        return slot

    def release(self, slot: Slot, *, reusable: bool) -> None:
        with self._cond:
            self._busy.discard(slot)
            slot.last_used = self._clock()
            self._leased_at.pop(slot, None)
            self._kept.discard(slot)
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
            self._leased_at.clear()
            self._kept.clear()
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


def _average(current: float | None, sample: float) -> float:
    return sample if current is None else 0.8 * current + 0.2 * sample
