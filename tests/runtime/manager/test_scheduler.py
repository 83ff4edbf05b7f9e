"""The manager's scheduler: rate/cron next-fire times, firing, payloads, reloads (fake clock, fake invoker)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from esb_runtime.config import FunctionConfig, FunctionsConfig, Schedule
from esb_runtime.errors import TooManyRequests
from esb_runtime.manager.schedule_expr import Cron, Rate, ScheduleExpressionError, parse_expression
from esb_runtime.manager.scheduler import Scheduler, attach

UTC = dt.timezone.utc
START = dt.datetime(2024, 5, 17, 10, 30, 20, tzinfo=UTC)  # a Friday


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- expressions -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "seconds"), [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 hours)", 7200),
    ("rate(1 day)", 86400), ("rate(3 days)", 3 * 86400), ("rate( 10  minutes )", 600),
])
def test_rate_periods(expression: str, seconds: int) -> None:
    trigger = parse_expression(expression)
    assert trigger == Rate(seconds)
    assert trigger.next_after(START) == START + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(("expression", "expected"), [
    ("cron(0 12 * * ? *)", at(2024, 5, 17, 12, 0)),           # noon every day
    ("cron(0 9 * * ? *)", at(2024, 5, 18, 9, 0)),             # 09:00 already passed today
    ("cron(0/15 * * * ? *)", at(2024, 5, 17, 10, 45)),        # every quarter hour
    ("cron(31 10 * * ? *)", at(2024, 5, 17, 10, 31)),         # the next minute boundary
    ("cron(30 10 * * ? *)", at(2024, 5, 18, 10, 30)),         # this very minute is past: tomorrow
    ("cron(0 8 ? * MON-FRI *)", at(2024, 5, 20, 8, 0)),       # Friday after 8: Monday
    ("cron(0 8 ? * 2-6 *)", at(2024, 5, 20, 8, 0)),           # the same with numbers (1 = Sunday)
    ("cron(0 0 ? * SUN *)", at(2024, 5, 19, 0, 0)),
    ("cron(0 0 1 * ? *)", at(2024, 6, 1, 0, 0)),              # first of the month
    ("cron(0 0 1 JAN ? *)", at(2025, 1, 1, 0, 0)),            # yearly
    ("cron(0 0 29 2 ? *)", at(2028, 2, 29, 0, 0)),            # the next leap day
    ("cron(5,10 14-15 * * ? 2024)", at(2024, 5, 17, 14, 5)),
    ("cron(0 0 * * ? 2023)", None),                            # every year in the past
])
def test_cron_next_fire(expression: str, expected: dt.datetime | None) -> None:
    assert parse_expression(expression).next_after(START) == expected


def test_cron_next_fire_from_exact_boundary_moves_on() -> None:
    trigger = parse_expression("cron(0/5 * * * ? *)")
    first = trigger.next_after(at(2024, 5, 17, 10, 30))
    assert first == at(2024, 5, 17, 10, 35)
    assert trigger.next_after(first) == at(2024, 5, 17, 10, 40)


def test_cron_parses_names_and_steps() -> None:
    trigger = parse_expression("cron(0 */6 ? JAN,JUL WED *)")
    assert isinstance(trigger, Cron)
    assert trigger.hours == {0, 6, 12, 18}
    assert trigger.months == {1, 7}
    assert trigger.weekdays == {4}


@pytest.mark.parametrize("expression", [
    "rate(0 minutes)", "rate(5 weeks)", "every 5 minutes", "cron(0 12 * * ?)", "cron(60 * * * ? *)",
    "cron(0 12 * * ? 1960)", "cron(x 12 * * ? *)", "cron(0 12 L * ? *)", "cron(0 12 15W * ? *)",
    "cron(0 12 ? * MON#2 *)", "cron(5-1 * * * ? *)", "cron(15 10 ? * 6L 2024)",
])
def test_bad_or_unsupported_expressions_raise(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        parse_expression(expression)


@pytest.mark.parametrize("expression", ["cron(0 12 L * ? *)", "cron(0 12 15W * ? *)", "cron(0 12 ? * MON#2 *)"])
def test_l_w_hash_are_reported_as_unsupported(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError, match="not supported"):
        parse_expression(expression)


# --- the scheduler ---------------------------------------------------------------------------------
class Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def function(name: str, *schedules: Schedule) -> FunctionConfig:
    return FunctionConfig(name=name, logical_id=name, handler="app.handler", runtime="python3.11",
                          architecture="x86_64", timeout=3, memory_size=128, reserved_concurrency=None,
                          environment=(), layers=(), code_dir=Path("/nowhere"), deps_dir=None, layer_dirs=(),
                          manifest=None, config_hash="h", schedules=schedules)


class Harness:
    def __init__(self, *functions: FunctionConfig, scale: float = 1.0) -> None:
        self.config = self.app(*functions)
        self.clock = Clock(START)
        self.calls: list[tuple[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self.refuse = False
        ids = iter(f"id-{i}" for i in range(1000))
        self.scheduler = Scheduler(lambda: self.config, self.invoke, self.records.append, clock=self.clock,
                                   scale=scale, ids=lambda: next(ids))
        self.scheduler.sync()

    @staticmethod
    def app(*functions: FunctionConfig) -> FunctionsConfig:
        return FunctionsConfig(project="p", region="eu-west-1", account_id="123456789012",
                               functions={fn.name: fn for fn in functions})

    def invoke(self, name: str, payload: bytes) -> None:
        if self.refuse:
            raise TooManyRequests("the asynchronous invocation queue is full")
        self.calls.append((name, json.loads(payload)))

    def step(self, seconds: float) -> int:
        self.clock.advance(seconds)
        self.scheduler.sync()
        return self.scheduler.run_due()


def test_rate_fires_once_per_period_with_scheduled_event_payload() -> None:
    h = Harness(function("tick-fn", Schedule("Tick", "rate(1 minute)")))
    assert h.step(59) == 0 and h.calls == []
    assert h.step(1) == 1
    name, event = h.calls[0]
    assert name == "tick-fn"
    assert event == {
        "version": "0", "id": "id-0", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2024-05-17T10:31:20Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/tick-fn-Tick"], "detail": {},
    }
    assert h.step(30) == 0
    assert h.step(30) == 1
    assert h.calls[1][1]["time"] == "2024-05-17T10:32:20Z" and h.calls[1][1]["id"] == "id-1"


def test_each_firing_writes_a_manager_record() -> None:
    h = Harness(function("tick-fn", Schedule("Tick", "rate(1 minute)")))
    h.step(60)
    [record] = h.records
    assert record["source"] == "manager" and record["function"] == "tick-fn"
    assert record["schedule"] == "Tick" and record["event_id"] == "id-0"
    assert record["message"] == "schedule Tick fired"
    assert record["scheduled_time"] == "2024-05-17T10:31:20Z"


def test_late_scheduler_fires_once_not_once_per_missed_slot() -> None:
    h = Harness(function("f", Schedule("Tick", "rate(1 minute)")))
    assert h.step(10 * 60 + 5) == 1
    assert h.step(50) == 0
    assert h.step(10) == 1


def test_cron_schedule_fires_at_its_minute() -> None:
    h = Harness(function("f", Schedule("Noon", "cron(0 12 * * ? *)")))
    assert h.scheduler.next_due() == at(2024, 5, 17, 12, 0)
    assert h.step(89 * 60) == 0  # 11:59:20
    assert h.step(40) == 1
    assert h.scheduler.next_due() == at(2024, 5, 18, 12, 0)


def test_disabled_schedule_never_fires() -> None:
    h = Harness(function("f", Schedule("Off", "rate(1 minute)", enabled=False)))
    assert h.step(3600) == 0
    assert h.calls == [] and h.scheduler.next_due() is None


def test_input_is_passed_through_instead_of_the_event() -> None:
    h = Harness(function("f", Schedule("Tick", "rate(1 minute)", input='{"job": "cleanup", "n": 3}')))
    h.step(60)
    assert h.calls == [("f", {"job": "cleanup", "n": 3})]


def test_unsupported_expression_is_reported_not_fired() -> None:
    h = Harness(function("f", Schedule("Last", "cron(0 12 L * ? *)"), Schedule("Tick", "rate(1 minute)")))
    warnings = [r for r in h.records if r["level"] == "warn"]
    assert len(warnings) == 1 and "not supported" in warnings[0]["message"] and warnings[0]["schedule"] == "Last"
    h.step(60)
    assert [name for name, _ in h.calls] == ["f"] and len(h.calls) == 1
    h.step(60)
    assert len([r for r in h.records if r["level"] == "warn"]) == 1  # reported once, not every pass


def test_queue_full_is_logged_and_the_schedule_keeps_going() -> None:
    h = Harness(function("f", Schedule("Tick", "rate(1 minute)")))
    h.refuse = True
    assert h.step(60) == 1
    assert h.records[-1]["level"] == "warn" and "not queued" in h.records[-1]["message"]
    h.refuse = False
    h.step(60)
    assert len(h.calls) == 1


def test_reload_adds_removes_and_restarts_changed_schedules() -> None:
    h = Harness(function("a", Schedule("Tick", "rate(1 minute)")), function("b", Schedule("Slow", "rate(1 hour)")))
    h.step(30)
    h.config = h.app(function("a", Schedule("Tick", "rate(1 minute)")),  # unchanged: keeps its phase
                     function("c", Schedule("New", "rate(2 minutes)")))   # b went, c came
    h.step(30)
    assert [name for name, _ in h.calls] == ["a"]
    assert {(s["function"], s["name"]) for s in h.scheduler.schedules()} == {("a", "Tick"), ("c", "New")}
    h.step(60)
    h.step(60)  # t=180: a's third minute, c's first two minutes
    assert [name for name, _ in h.calls] == ["a", "a", "a", "c"]
    h.config = h.app(function("a", Schedule("Tick", "rate(5 minutes)")))  # changed: counts from now; c went
    for _ in range(4):
        h.step(60)
    assert len(h.calls) == 4
    h.step(120)  # five minutes after the change was read (at the first step after it)
    assert [name for name, _ in h.calls] == ["a", "a", "a", "c", "a"]


def test_broken_config_keeps_current_schedules() -> None:
    from esb_runtime.config import FunctionsConfigError

    h = Harness(function("a", Schedule("Tick", "rate(1 minute)")))

    def broken() -> FunctionsConfig:
        raise FunctionsConfigError("functions.yml: not valid YAML")

    h.scheduler._config = broken  # the reader is the seam under test here
    assert h.step(60) == 1


def test_scale_speeds_schedule_time() -> None:
    h = Harness(function("a", Schedule("Tick", "rate(1 minute)")), scale=60)
    assert h.step(0.9) == 0
    assert h.step(0.2) == 1
    assert h.scheduler._wait_s() == pytest.approx(0.9, abs=0.05)


def test_attach_queues_event_invocations_on_the_manager() -> None:
    class FakeManager:
        def __init__(self) -> None:
            self.invocations: list[tuple[str, bytes, str]] = []
            self.records: list[dict[str, Any]] = []

        def current_config(self) -> FunctionsConfig:
            return Harness.app(function("a", Schedule("Tick", "rate(1 minute)")))

        def record(self, record: dict[str, Any]) -> None:
            self.records.append(record)

        def invoke(self, name: str, payload: bytes, *, invocation_type: str = "RequestResponse") -> None:
            self.invocations.append((name, payload, invocation_type))

    manager = FakeManager()
    scheduler = attach(manager, scale=600)  # one minute of schedule time = 0.1 s
    try:
        import time

        deadline = time.monotonic() + 5
        while not manager.invocations and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
    assert manager.invocations and manager.invocations[0][0] == "a"
    assert manager.invocations[0][2] == "Event"
    assert json.loads(manager.invocations[0][1])["detail-type"] == "Scheduled Event"
