"""The crash-loop circuit breaker with an injected clock."""

from __future__ import annotations

import pytest

from esb_runtime.errors import CircuitOpen
from esb_runtime.manager.breaker import Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _fail(breaker: Breaker, times: int, outcome: str = "crash") -> None:
    for _ in range(times):
        breaker.record(outcome, breaker.admit())


def test_three_failures_in_a_row_open_it_for_the_window() -> None:
    clock = Clock()
    breaker = Breaker("fn", failures=3, window_s=10, clock=clock)
    _fail(breaker, 2, "timeout")
    assert breaker.state() == {"state": "closed", "failures": 2}
    _fail(breaker, 1, "init_error")
    clock.now += 4
    with pytest.raises(CircuitOpen, match="3 times in a row; not called for another 6.0 s"):
        breaker.admit()
    assert breaker.state() == {"state": "open", "failures": 3, "retry_in_s": 6.0}
    assert CircuitOpen.status == 502


def test_after_the_window_one_trial_call_decides() -> None:
    clock = Clock()
    breaker = Breaker("fn", failures=3, window_s=10, clock=clock)
    _fail(breaker, 3)
    clock.now += 10
    assert breaker.state()["state"] == "half_open"
    trial = breaker.admit()
    assert trial is True
    with pytest.raises(CircuitOpen, match="trial call is in flight"):
        breaker.admit()  # others wait for the trial's verdict
    breaker.record("ok", trial)
    assert breaker.state() == {"state": "closed", "failures": 0}
    assert breaker.admit() is False


def test_a_failed_trial_opens_it_again_at_once() -> None:
    clock = Clock()
    breaker = Breaker("fn", failures=3, window_s=10, clock=clock)
    _fail(breaker, 3)
    clock.now += 11
    breaker.record("timeout", breaker.admit())
    assert breaker.state()["state"] == "open"
    with pytest.raises(CircuitOpen):
        breaker.admit()


def test_function_errors_and_successes_break_the_streak() -> None:
    breaker = Breaker("fn", failures=3, window_s=10, clock=Clock())
    _fail(breaker, 2)
    breaker.record("error", breaker.admit())  # a handled exception: the function runs fine
    _fail(breaker, 2)
    assert breaker.state() == {"state": "closed", "failures": 2}


def test_a_call_that_never_reached_the_function_is_no_verdict() -> None:
    clock = Clock()
    breaker = Breaker("fn", failures=1, window_s=5, clock=clock)
    _fail(breaker, 1)
    clock.now += 5
    trial = breaker.admit()
    breaker.record(None, trial)  # e.g. no free sandbox: the next caller may try
    assert breaker.admit() is True


def test_zero_failures_turns_it_off_and_reset_closes_it() -> None:
    off = Breaker("fn", failures=0, window_s=10, clock=Clock())
    _fail(off, 10)
    assert off.admit() is False
    breaker = Breaker("fn", failures=1, window_s=10, clock=Clock())
    _fail(breaker, 1)
    breaker.reset()
    assert breaker.admit() is False
