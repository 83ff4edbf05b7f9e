"""Usage plans of API keys, as API Gateway enforces them: a token-bucket throttle and a quota per period.

Counted in memory per gateway process: a restart starts every key afresh, and each gunicorn worker counts alone.
"""

from __future__ import annotations

import calendar
import hmac
import math
import time
from typing import Callable

from esb_runtime.gateway.auth_config import UsagePlanConfig
from esb_runtime.gateway.lambda_authorizer import Verdict

_DAY_S = 86400
_EPOCH_WEEKDAY = 4  # 1970-01-01 was a Thursday (Sunday is 0, as Quota.Offset counts for WEEK)
TOO_MANY = Verdict(False, 429, {"message": "Too Many Requests"})
LIMIT_EXCEEDED = Verdict(False, 429, {"message": "Limit Exceeded"})
NOT_IN_PLAN = Verdict(False, 403, {"message": "Forbidden"})


def period_start(period: str, offset: int, now: float) -> float:
    """The UTC start of the quota period `now` falls in."""
    day = int(now // _DAY_S)
    if period == "DAY":
        return float(day * _DAY_S)
    if period == "WEEK":
        weekday = (day + _EPOCH_WEEKDAY) % 7
        return float((day - (weekday - offset) % 7) * _DAY_S)
    t = time.gmtime(now)
    year, month = t.tm_year, t.tm_mon
    if t.tm_mday <= offset:  # before this month's start day: the period began last month
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return float(calendar.timegm((year, month, offset + 1, 0, 0, 0)))


def _capacity(plan: UsagePlanConfig) -> float:
    if plan.burst is not None:
        return float(plan.burst)
    return float(max(1, math.ceil(plan.rate or 0)))


class UsageMeter:
    """Counters per (plan, API key); keys are the box's and the template's, so the table stays small."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # → (tokens, at)
        self._quotas: dict[tuple[str, str], tuple[float, int]] = {}  # → (period start, requests counted)

    def admit(self, plan: UsagePlanConfig, api_key: str) -> Verdict | None:
        """None when the request may go on (and is counted), else API Gateway's 429."""
        now = self._clock()
        slot = (plan.name, api_key)
        used = 0
        if plan.limit is not None:
            start = period_start(plan.period, plan.offset, now)
            counted_start, used = self._quotas.get(slot, (start, 0))
            if counted_start != start:
                used = 0
            if used >= plan.limit:
                return LIMIT_EXCEEDED
        if plan.rate is not None or plan.burst is not None:
            capacity = _capacity(plan)
            tokens, at = self._buckets.get(slot, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * (plan.rate or 0.0))
            if tokens < 1.0:
                self._buckets[slot] = (tokens, now)
                return TOO_MANY
            self._buckets[slot] = (tokens - 1.0, now)
        if plan.limit is not None:
            self._quotas[slot] = (period_start(plan.period, plan.offset, now), used + 1)
        return None

    def admit_key(self, shared: UsagePlanConfig | None, keyed: tuple[UsagePlanConfig, ...], api_key: str, *,
                  box_key: bool) -> Verdict | None:
        """The plan an API's stage gives this key: the keyed plan that lists it, else the one for every key."""
        plan = next((p for p in keyed if any(hmac.compare_digest(api_key.encode(), k.encode()) for k in p.keys)),
                    shared)
        if plan is None:
            # API Gateway refuses a key no usage plan of the stage lists; the box's own key is in no plan.
            return NOT_IN_PLAN if keyed and not box_key else None
        return self.admit(plan, api_key)
