"""SAM Schedule events: rate()/cron() schedules (UTC, schedule_expr.py) firing Event invocations in the manager."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from esb_runtime.config import FunctionsConfig, Schedule
from esb_runtime.errors import RuntimeBoxError
from esb_runtime.logs.records import manager_record
from esb_runtime.manager.schedule_expr import ScheduleExpressionError, Trigger, parse_expression

log = logging.getLogger(__name__)

_UTC = dt.timezone.utc
def scheduled_event(*, event_id: str, when: dt.datetime, account: str, region: str, rule_arn: str) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" a rule hands its target."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": when.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


Invoker = Callable[[str, bytes], None]  # (function, payload): queue an Event invocation
Emit = Callable[[dict[str, Any]], None]  # one log record


@dataclass
class _Entry:
    function: str
    schedule: Schedule
    trigger: Trigger | None
    next_at: dt.datetime | None


class Scheduler:
    """Keeps one next-fire time per enabled schedule of the current functions.yml and fires when due.

    `clock` gives epoch seconds; `scale` > 1 makes schedule time run that many times faster than
    the clock (a test knob: rate(1 minute) at scale 60 fires every second).
    """

    def __init__(self, config: Callable[[], FunctionsConfig], invoke: Invoker, emit: Emit, *,
                 clock: Callable[[], float] = time.time, scale: float = 1.0,
                 ids: Callable[[], str] = lambda: str(uuid.uuid4()), poll_s: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("the schedule scale must be positive")
        self._config, self._invoke, self._emit = config, invoke, emit
        self._clock, self._scale, self._ids, self._poll_s = clock, scale, ids, poll_s
        self._origin = clock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._app = FunctionsConfig(project="", region="us-east-1", account_id="000000000000")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> dt.datetime:
        """Schedule time: the clock, sped up by `scale` since the scheduler was made."""
        real = self._clock()
        return dt.datetime.fromtimestamp(self._origin + (real - self._origin) * self._scale, _UTC)

    def sync(self) -> None:
        """Take schedules from the current config: new or changed ones start counting from now."""
        try:
            app = self._config()
        except RuntimeBoxError as exc:  # a broken functions.yml keeps the schedules we have
            log.warning("schedules not reloaded: %s", exc.message)
            return
        self._app = app
        wanted = {(fn.name, s.name): s for fn in app.functions.values() for s in fn.schedules}
        for key in [key for key in self._entries if key not in wanted]:
            del self._entries[key]
        now = self.now()
        for key, schedule in wanted.items():
            entry = self._entries.get(key)
            if entry is None or entry.schedule != schedule:
                self._entries[key] = self._entry(key[0], schedule, now)

    def _entry(self, function: str, schedule: Schedule, now: dt.datetime) -> _Entry:
        try:
            trigger = parse_expression(schedule.expression)
        except ScheduleExpressionError as exc:
            self._emit(manager_record(f"schedule {schedule.name} will not fire: {exc.message}", level="warn",
                                      function=function, schedule=schedule.name, expression=schedule.expression))
            return _Entry(function, schedule, None, None)
        next_at = trigger.next_after(now) if schedule.enabled else None
        return _Entry(function, schedule, trigger, next_at)

    def next_due(self) -> dt.datetime | None:
        times = [e.next_at for e in self._entries.values() if e.next_at is not None]
        return min(times) if times else None

    def schedules(self) -> list[dict[str, Any]]:
        return [{"function": e.function, "name": e.schedule.name, "expression": e.schedule.expression,
                 "enabled": e.schedule.enabled, "next": None if e.next_at is None else e.next_at.isoformat()}
                for _, e in sorted(self._entries.items())]

    def run_due(self) -> int:
        """Fire every schedule whose time has come (once, however late); the number fired."""
        now, fired = self.now(), 0
        for entry in list(self._entries.values()):
            if entry.trigger is None or entry.next_at is None or entry.next_at > now:
                continue
            self._fire(entry, entry.next_at)
            fired += 1
            following = entry.trigger.next_after(entry.next_at)
            # A scheduler that fell behind (suspended host) fires once, not once per missed slot.
            entry.next_at = following if following is None or following > now else entry.trigger.next_after(now)
        return fired

    def _fire(self, entry: _Entry, when: dt.datetime) -> None:
        app, schedule, event_id = self._app, entry.schedule, self._ids()
        rule_arn = f"arn:aws:events:{app.region}:{app.account_id}:rule/{entry.function}-{schedule.name}"
        if schedule.input is not None:
            payload = schedule.input.encode()
        else:
            payload = json.dumps(scheduled_event(event_id=event_id, when=when, account=app.account_id,
                                                 region=app.region, rule_arn=rule_arn)).encode()
        fields = {"function": entry.function, "schedule": schedule.name, "expression": schedule.expression,
                  "event_id": event_id, "scheduled_time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            self._invoke(entry.function, payload)
        except RuntimeBoxError as exc:  # e.g. the Event queue is full: this firing is lost, as EventBridge drops
            self._emit(manager_record(f"schedule {schedule.name} fired but was not queued: {exc.message}",
                                      level="warn", **fields))
            return
        self._emit(manager_record(f"schedule {schedule.name} fired", **fields))

    # --- background loop -----------------------------------------------------------------------
    def start(self) -> None:
        self.sync()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def _wait_s(self) -> float:
        due = self.next_due()
        if due is None:
            return self._poll_s
        ahead = (due - self.now()).total_seconds() / self._scale
        return max(0.01, min(self._poll_s, ahead))

    def _loop(self) -> None:
        while not self._stopping.wait(self._wait_s()):
            try:
                self.sync()
                self.run_due()
            except Exception:  # the scheduler must outlive any one bad firing
                log.exception("scheduler pass failed")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


class _ManagerLike(Protocol):
    def current_config(self) -> FunctionsConfig: ...
    def record(self, record: dict[str, Any]) -> None: ...
    def invoke(self, name: str, payload: bytes, *, invocation_type: str = ...) -> Any: ...


def attach(manager: _ManagerLike, *, scale: float = 1.0) -> Scheduler:
    """A started scheduler whose firings are queued like any Event invocation (same pools, no overlap bypass)."""

    def invoke(function: str, payload: bytes) -> None:
        manager.invoke(function, payload, invocation_type="Event")

    scheduler = Scheduler(manager.current_config, invoke, manager.record, scale=scale)
    scheduler.start()
    return scheduler
