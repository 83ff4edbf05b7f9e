"""Login throttling per source: a few failures are free, then one attempt per refill period (429 + Retry-After)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Callable


class FailureThrottle:
    """A token bucket of failed attempts per source address; a success clears that source's record."""

    def __init__(self, *, burst: int = 5, refill_s: float = 10.0, max_sources: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.refill_s, self.max_sources, self._clock = burst, refill_s, max_sources, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # source → (tokens, at)

    def _tokens(self, source: str, now: float) -> float:
        tokens, at = self._buckets.get(source, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) / self.refill_s)

    def retry_after(self, source: str) -> int | None:
        """Seconds until this source may try again, or None when it may try now."""
        if source not in self._buckets:
            return None
        tokens = self._tokens(source, self._clock())
        if tokens >= 1.0:
            return None
        return max(1, math.ceil((1.0 - tokens) * self.refill_s))

    def failed(self, source: str) -> None:
        now = self._clock()
        self._buckets[source] = (max(0.0, self._tokens(source, now) - 1.0), now)
        self._buckets.move_to_end(source)
        while len(self._buckets) > self.max_sources:  # many sources: forget the oldest, memory stays bounded
            self._buckets.popitem(last=False)

    def succeeded(self, source: str) -> None:
        self._buckets.pop(source, None)
