"""The single-process gateway's watchdog: a hub that stops heartbeating ends the process (the master's job)."""

from __future__ import annotations

import threading

from esb_runtime.gateway.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_stale_heartbeat_stalls_and_a_fresh_one_does_not() -> None:
    clock, stalls = Clock(), []
    dog = Watchdog(60, clock=clock, on_stall=stalls.append)
    clock.now += 59
    assert not dog.check()
    dog.beat()
    clock.now += 60
    assert not dog.check() and stalls == []  # exactly the timeout since the last beat is still alive
    clock.now += 1
    assert dog.check()
    assert stalls == [60]


def test_started_watchdog_notices_a_stall_from_its_own_thread() -> None:
    stalled = threading.Event()
    seen: list[str] = []

    def on_stall(timeout_s: float) -> None:
        seen.append(threading.current_thread().name)
        stalled.set()

    Watchdog(0.05, on_stall=on_stall).start(interval_s=0.01)  # nobody beats: the hub "hangs"
    assert stalled.wait(5)
    assert seen and seen[0] != threading.main_thread().name
