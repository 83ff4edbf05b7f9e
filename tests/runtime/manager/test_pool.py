"""Pool unit tests with an in-memory fake engine: exclusivity, caps, waits, hashes, idle and dead sandboxes."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from esb_runtime.errors import EngineError, TooManyRequests
from esb_runtime.manager.pool import Pool, Slot


@dataclass
class FakeSandbox:
    id: str
    hash: str
    alive: bool = True
    stopped: bool = False


class FakeEngine:
    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.started: list[FakeSandbox] = []
        self.fail_next = False
        self.hash = "h1"

    def start(self) -> Slot:
        if self.fail_next:
            self.fail_next = False
            raise EngineError("cannot start")
        sandbox = FakeSandbox(f"sb-{next(self.ids)}", self.hash)
        self.started.append(sandbox)
        return Slot(sandbox=sandbox, hash=self.hash)

    def stop(self, slot: Slot) -> None:
        slot.sandbox.stopped = True

    def alive(self, slot: Slot) -> bool:
        return bool(slot.sandbox.alive and not slot.sandbox.stopped)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(engine: FakeEngine, max_size: int = 2, timeout: float = 0.2, clock: Any = time.monotonic) -> Pool:
    return Pool("fn", current_hash=engine.hash, max_size=max_size, acquire_timeout_s=timeout,
                start=engine.start, stop=engine.stop, alive=engine.alive, clock=clock)


def test_released_sandbox_is_reused() -> None:
    engine = FakeEngine()
    pool = make_pool(engine)
    first = pool.acquire()
    pool.release(first, reusable=True)
    assert pool.acquire() is first
    assert len(engine.started) == 1


def test_never_two_leases_on_one_sandbox_and_cap_respected() -> None:
    engine = FakeEngine()
    pool = make_pool(engine, max_size=3, timeout=5)
    in_flight: dict[str, int] = {}
    violations: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            slot = pool.acquire()
            with lock:
                in_flight[slot.id] = in_flight.get(slot.id, 0) + 1
                if in_flight[slot.id] > 1:
                    violations.append(slot.id)
            time.sleep(0.001)
            with lock:
                in_flight[slot.id] -= 1
            pool.release(slot, reusable=True)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert violations == []
    assert len(engine.started) <= 3


def test_waiter_gets_too_many_requests_after_the_timeout() -> None:
    engine = FakeEngine()
    pool = make_pool(engine, max_size=1, timeout=0.1)
    pool.acquire()
    with pytest.raises(TooManyRequests):
        pool.acquire()


def test_waiter_is_served_when_a_lease_is_released() -> None:
    engine = FakeEngine()
    pool = make_pool(engine, max_size=1, timeout=5)
    held = pool.acquire()
    threading.Timer(0.05, pool.release, args=(held,), kwargs={"reusable": True}).start()
    assert pool.acquire() is held


def test_not_reusable_sandbox_is_stopped_and_replaced() -> None:
    engine = FakeEngine()
    pool = make_pool(engine)
    first = pool.acquire()
    pool.release(first, reusable=False)
    assert first.sandbox.stopped
    assert pool.acquire() is not first


def test_hash_change_stops_idle_and_busy_on_release() -> None:
    engine = FakeEngine()
    pool = make_pool(engine)
    idle, busy = pool.acquire(), pool.acquire()
    pool.release(idle, reusable=True)
    engine.hash = "h2"
    pool.configure("h2", 2)
    assert idle.sandbox.stopped and not busy.sandbox.stopped
    pool.release(busy, reusable=True)
    assert busy.sandbox.stopped
    assert pool.acquire().hash == "h2"


def test_dead_idle_sandbox_is_replaced_on_acquire() -> None:
    engine = FakeEngine()
    pool = make_pool(engine)
    first = pool.acquire()
    pool.release(first, reusable=True)
    first.sandbox.alive = False
    second = pool.acquire()
    assert second is not first and first.sandbox.stopped


def test_idle_sandboxes_are_reaped() -> None:
    engine, clock = FakeEngine(), Clock()
    pool = make_pool(engine, clock=clock)
    a, b = pool.acquire(), pool.acquire()
    pool.release(a, reusable=True)
    clock.now += 100
    pool.release(b, reusable=True)
    assert pool.reap(50) == 1
    assert a.sandbox.stopped and not b.sandbox.stopped
    assert pool.slots() == [b]


def test_start_failure_frees_the_slot() -> None:
    engine = FakeEngine()
    pool = make_pool(engine, max_size=1)
    engine.fail_next = True
    with pytest.raises(EngineError):
        pool.acquire()
    assert pool.size() == 0
    assert pool.acquire().sandbox.id == "sb-1"


def test_close_stops_everything_and_refuses_new_leases() -> None:
    engine = FakeEngine()
    pool = make_pool(engine)
    busy, idle = pool.acquire(), pool.acquire()
    pool.release(idle, reusable=True)
    pool.close()
    assert busy.sandbox.stopped and idle.sandbox.stopped
    with pytest.raises(TooManyRequests):
        pool.acquire()
