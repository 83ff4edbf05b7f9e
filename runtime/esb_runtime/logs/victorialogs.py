"""VictoriaLogs as a log store: batched JSON-lines inserts and LogsQL queries."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from typing import Iterator

from esb_runtime.logs.records import format_time, trace_root
from esb_runtime.logs.stores import LogQuery, Stop, newest, parse_time, time_order

_VL_FRACTION = re.compile(r"\.(\d{1,9})Z$")


def _from_victorialogs(row: dict) -> dict:
    """A VictoriaLogs result row back in the record shape (message/time instead of _msg/_time)."""
    record = {k: v for k, v in row.items() if k not in ("_msg", "_time", "_stream", "_stream_id")}
    record["message"] = row.get("_msg", "")
    stamp = str(row.get("_time", ""))
    record["time"] = _VL_FRACTION.sub(lambda m: "." + (m.group(1) + "00")[:3] + "Z", stamp)
    if stamp.endswith("Z") and "." not in stamp:
        record["time"] = stamp[:-1] + ".000Z"
    return record


def _logsql(q: LogQuery) -> str:
    """The LogsQL filter of a query; the client re-checks each row with q.matches anyway."""
    parts = []
    for fieldname, value in (("function", q.function), ("request_id", q.request_id),
                             ("trace_id", trace_root(q.trace) if q.trace else None)):
        if value:
            parts.append(f"{fieldname}:={json.dumps(value)}")
    if q.since is not None:
        parts.append(f"_time:>={format_time(q.since)}")
    if q.grep:
        parts.append(f"_msg:~{json.dumps(re.escape(q.grep))}")
    text = " AND ".join(parts) or "*"
    if q.limit:
        return f"{text} | sort by (_time desc) | limit {q.limit}"
    return f"{text} | sort by (_time)"


class VictoriaLogsStore:
    """Ships records to VictoriaLogs' JSON-lines API in batches from a bounded queue (overflow is counted)."""

    INSERT_PARAMS = {"_stream_fields": "function,source", "_msg_field": "message", "_time_field": "time"}

    def __init__(
        self,
        url: str,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        max_queue: int = 20000,
        timeout_s: float = 5.0,
        poll_s: float = 1.0,
        transport: object | None = None,
    ) -> None:
        import httpx  # only the VictoriaLogs flavour needs an HTTP client

        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.poll_s = poll_s
        self.dropped = 0  # records lost to a full queue or a failed POST
        self._queue: deque[dict] = deque()
        self._max_queue = max_queue
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        kwargs = {"transport": transport} if transport is not None else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, **kwargs)
        self._thread = threading.Thread(target=self._run, name="victorialogs-shipper", daemon=True)
        self._thread.start()

    def write(self, records: list[dict]) -> None:
        with self._lock:
            room = self._max_queue - len(self._queue)
            self._queue.extend(records[:room])
            self.dropped += max(0, len(records) - max(room, 0))
            full = len(self._queue) >= self.batch_size
        if full:
            self._wake.set()

    def flush(self) -> None:
        while True:
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            if not batch:
                return
            body = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in batch)
            try:
                response = self._http.post("/insert/jsonline", params=self.INSERT_PARAMS, content=body.encode(),
                                           headers={"Content-Type": "application/stream+json"})
                response.raise_for_status()
            except Exception:  # the log store being down must never break the caller
                with self._lock:
                    self.dropped += len(batch)
                return

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()
        self._http.close()

    def query(self, q: LogQuery) -> Iterator[dict]:
        rows = self._select(q)
        return iter(newest((r for r in rows if q.matches(r)), q.limit))

    def _select(self, q: LogQuery) -> list[dict]:
        data = {"query": _logsql(q)}
        if q.since is not None:
            data["start"] = format_time(q.since)
        response = self._http.post("/select/logsql/query", data=data)
        response.raise_for_status()
        return [_from_victorialogs(json.loads(line)) for line in response.text.splitlines() if line.strip()]

    def follow(self, q: LogQuery, stop: Stop) -> Iterator[dict]:
        """Polls for records newer than the last one seen (VictoriaLogs keeps no per-client cursor)."""
        seen: set[str] = set()
        latest = ""
        current = q
        while True:
            fresh = []
            for record in self.query(current):
                key = json.dumps(record, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    fresh.append(record)
            yield from fresh
            if fresh:
                latest = max(latest, *(time_order(r) for r in fresh))
                # Keep only keys at the newest timestamp: they are the ones the next poll returns again.
                seen = {k for k in seen if latest in k}
                current = LogQuery(q.function, parse_time(latest), q.trace, q.request_id, q.grep, None)
            if stop.is_set():
                return
            time.sleep(self.poll_s)
