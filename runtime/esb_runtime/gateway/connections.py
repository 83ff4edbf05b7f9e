"""Connection admission for the gateway: per-source and total caps, and one rate-limited line per noisy source."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable


class SourceGate:
    """Counts open connections per source address; `enter` refuses one over the cap."""

    def __init__(self, per_source: int) -> None:
        self.per_source = per_source
        self._open: dict[str, int] = {}

    def enter(self, source: str) -> bool:
        count = self._open.get(source, 0)
        if count >= self.per_source:
            return False
        self._open[source] = count + 1
        return True

    def leave(self, source: str) -> None:
        count = self._open.get(source, 0) - 1
        if count > 0:
            self._open[source] = count
        else:
            self._open.pop(source, None)

    def open_from(self, source: str) -> int:
        return self._open.get(source, 0)


class NoiseLog:
    """At most one line per source and interval; the lines in between are counted and reported with the next."""

    def __init__(self, write: Callable[[str], None], interval_s: float, *, max_sources: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write, self._interval_s, self._max_sources, self._clock = write, interval_s, max_sources, clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()  # source → (last written, suppressed)

    def report(self, source: str, what: str) -> None:
        now = self._clock()
        last, suppressed = self._seen.get(source, (None, 0))
        if last is not None and now - last < self._interval_s:
            self._seen[source] = (last, suppressed + 1)
            return
        more = f" ({suppressed} more since the last report)" if suppressed else ""
        self._write(f"{what} from {source}{more}")
        self._seen[source] = (now, 0)
        self._seen.move_to_end(source)
        while len(self._seen) > self._max_sources:  # a scan from many addresses must not grow this without bound
            self._seen.popitem(last=False)
