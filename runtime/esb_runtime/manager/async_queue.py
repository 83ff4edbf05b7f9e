"""Event (asynchronous) invocations: a bounded queue drained by a few background workers."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from esb_runtime.errors import TooManyRequests

log = logging.getLogger(__name__)

_STOP = object()


class EventQueue:
    def __init__(self, run: Callable[..., Any], *, workers: int = 4, capacity: int = 1000) -> None:
        self._run = run
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._threads = [threading.Thread(target=self._work, name=f"event-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, **kwargs: Any) -> None:
        try:
            self._queue.put_nowait(kwargs)
        except queue.Full as exc:
            raise TooManyRequests("the asynchronous invocation queue is full") from exc

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._run(**item)
            except Exception as exc:  # an async caller has gone: the failure only goes to the log
                log.warning("event invocation of %s failed: %s", item.get("name"), exc)
            finally:
                self._queue.task_done()

    def join(self) -> None:
        self._queue.join()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=2)
