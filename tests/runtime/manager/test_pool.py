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


def _warm_pool(call_s: float, cores: int = 1) -> tuple[FakeEngine, Pool, Clock, Slot]:
    """A pool whose one sandbox took 0.2 s to start and whose calls take `call_s`, with that sandbox leased again."""
    engine, clock = FakeEngine(), Clock()
    started = engine.start

    def slow_start() -> Slot:
        clock.now += 0.2
        return started()

    pool = Pool("fn", current_hash=engine.hash, max_size=4, acquire_timeout_s=5, start=slow_start,
                stop=engine.stop, alive=engine.alive, clock=clock, cores=cores)
    first = pool.acquire()
    clock.now += call_s
    pool.observe_call(call_s)  # what the sandbox measured (its metrics line)
    pool.release(first, reusable=True)
    assert pool.acquire() is first
    return engine, pool, clock, first


def test_a_burst_of_fast_calls_waits_for_the_warm_sandbox_instead_of_cold_starts() -> None:
    engine, pool, clock, warm = _warm_pool(call_s=0.002)
    got: list[Slot] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive() and len(engine.started) == 1  # a start (0.2 s) is slower than the queue (2 ms)
    pool.release(warm, reusable=True)
    waiter.join(2)
    assert got == [warm] and len(engine.started) == 1


def test_slow_calls_scale_out_at_once() -> None:
    engine, pool, _, warm = _warm_pool(call_s=1.0)
    second = pool.acquire()  # a 1 s call is longer than a 0.2 s start: start another sandbox
    assert second is not warm and len(engine.started) == 2


def test_a_call_running_longer_than_a_start_is_not_waited_for() -> None:
    engine, pool, clock, warm = _warm_pool(call_s=0.002)
    clock.now += 5.0  # the warm sandbox's current call hangs (a start takes 0.2 s)
    second = pool.acquire()
    assert second is not warm and len(engine.started) == 2


def test_while_warm_sandboxes_serve_one_start_at_a_time() -> None:
    engine, clock = FakeEngine(), Clock()
    gate = threading.Event()
    started = engine.start

    def gated_start() -> Slot:
        if engine.started:
            gate.wait(2)  # the second sandbox's start is under way until the test lets it finish
        clock.now += 0.2
        return started()

    pool = Pool("fn", current_hash=engine.hash, max_size=4, acquire_timeout_s=5, start=gated_start,
                stop=engine.stop, alive=engine.alive, clock=clock, cores=2)
    warm = pool.acquire()
    pool.observe_call(0.002)  # fast calls
    got: list[Slot] = []
    threads = [threading.Thread(target=lambda: got.append(pool.acquire())) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    assert pool.size() == 2 and got == []  # the warm one and one start under way, not three starts
    gate.set()
    pool.release(warm, reusable=True)
    time.sleep(0.1)
    pool.release(got[0], reusable=True)  # two sandboxes (one per core) serve the three fast calls
    for thread in threads:
        thread.join(2)
    assert len(got) == 3 and len(engine.started) == 2


def test_acquire_idle_takes_only_a_warm_sandbox_and_never_jumps_the_queue() -> None:
    engine = FakeEngine()
    pool = make_pool(engine, max_size=1, timeout=5)
    assert pool.acquire_idle() is None and engine.started == []  # nothing idle: no start either
    first = pool.acquire()
    waiter_got: list[Slot] = []
    waiter = threading.Thread(target=lambda: waiter_got.append(pool.acquire()))
    waiter.start()
    time.sleep(0.05)
    assert pool.acquire_idle() is None  # someone waits: the fast path stays out of the way
    pool.release(first, reusable=True)
    waiter.join(2)
    assert waiter_got == [first]
    pool.release(first, reusable=True)
    assert pool.acquire_idle() is first


def test_the_sandbox_log_hands_each_measured_call_to_the_pool_and_keeps_the_marker_out_of_the_records() -> None:
    from esb_runtime.manager.logpump import SandboxLog
    from esb_runtime.sandbox.bootstrap import measured_line

    seen: list[tuple[float, float | None]] = []
    records: list[dict[str, Any]] = []
    slog = SandboxLog("fn", records.append, on_figures=lambda took, init: seen.append((took, init)))
    slog.bind("sb-1")
    slog.begin(None)
    slog.feed(measured_line(12.5, 250.0).decode().rstrip("\n"))  # a cold call: its init measured too
    slog.feed(measured_line(2.0, None).decode().rstrip("\n"))
    slog.feed("plain output")
    assert seen == [(0.0125, 0.25), (0.002, None)]
    assert [r["message"] for r in records] == ["plain output"]


def test_a_report_printed_after_the_next_call_began_still_gets_its_own_figures() -> None:
    """The RIE may print a call's REPORT after the next call started (and after its marker): figures pair by
    request id, not by order."""
    from esb_runtime.manager.logpump import SandboxLog
    from esb_runtime.sandbox.bootstrap import measured_line

    records: list[dict[str, Any]] = []
    slog = SandboxLog("fn", records.append)
    slog.bind("sb-1")
    slog.begin(None)
    slog.feed("START RequestId: a1 Version: $LATEST")
    slog.feed(measured_line(50.0, 300.0, "a1").decode().rstrip("\n"))
    slog.begin(None)  # the next call, before r1's END/REPORT
    slog.feed("START RequestId: b2 Version: $LATEST")
    slog.feed(measured_line(2.0, None, "b2").decode().rstrip("\n"))
    for rid in ("a1", "b2"):
        slog.feed(f"END RequestId: {rid}")
        slog.feed(f"REPORT RequestId: {rid}\tDuration: 351.00 ms\tBilled Duration: 352 ms\tMemory Size: 128 MB"
                  f"\tMax Memory Used: 128 MB\tInit Duration: 0.04 ms")
    reports = {r["request_id"]: r for r in records if r.get("event") == "REPORT"}
    assert (reports["a1"]["init_ms"], reports["a1"]["duration_ms"]) == (300.0, 50.0)
    assert "init_ms" not in reports["b2"] and reports["b2"]["duration_ms"] == 2.0


def test_calls_long_next_to_a_start_get_a_sandbox_each_as_on_lambda() -> None:
    engine, pool, _, warm = _warm_pool(call_s=0.05)  # 50 ms calls, 0.2 s starts: not twenty times shorter
    others = [pool.acquire() for _ in range(3)]
    assert len({slot.id for slot in [warm, *others]}) == 4 and len(engine.started) == 4


def test_fast_calls_still_get_a_sandbox_per_core() -> None:
    engine, pool, _, warm = _warm_pool(call_s=0.002, cores=2)
    second = pool.acquire()  # the warm one is busy and there are two cores: start a second at once
    assert second is not warm and len(engine.started) == 2


def test_a_kept_lease_serves_however_long_it_is_held() -> None:
    """A gateway worker keeps its lease across calls (lease_protocol): old, it is still no hung call, so a burst
    of fast calls waits for it rather than cold-start sandboxes."""
    engine, pool, clock, warm = _warm_pool(call_s=0.002)
    pool.kept(warm)
    clock.now += 100.0  # held far longer than a hung call's allowance
    got: list[Slot] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive() and len(engine.started) == 1
    pool.release(warm, reusable=True)
    waiter.join(timeout=5)
    assert got == [warm]
