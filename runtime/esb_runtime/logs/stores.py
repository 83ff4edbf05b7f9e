"""Log stores: where log records go (local JSON-lines files or VictoriaLogs) and how they are queried."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol

if TYPE_CHECKING:
    from esb_runtime.settings import RuntimeSettings

_ROOT_RE = re.compile(r"(?:^|;)\s*Root=([^;\s]+)")


def trace_root(value: str) -> str:
    """The Root= value of an X-Amzn-Trace-Id header, or the value itself when it is already a root."""
    match = _ROOT_RE.search(value)
    return match.group(1) if match else value.strip()


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, the format of every record's `time`."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class LogQuery:
    """What `esb logs` asks for; every field narrows the result, None means any."""

    function: str | None = None
    since: datetime | None = None
    trace: str | None = None  # Root= value (a full X-Amzn-Trace-Id is reduced to it)
    request_id: str | None = None
    grep: str | None = None  # case-sensitive substring of the message
    limit: int | None = None  # newest N matches, returned oldest first

    def matches(self, record: dict) -> bool:
        if self.function is not None and record.get("function") != self.function:
            return False
        if self.request_id is not None and record.get("request_id") != self.request_id:
            return False
        if self.trace is not None and record.get("trace_id") != trace_root(self.trace):
            return False
        if self.since is not None:
            moment = parse_time(record.get("time"))
            if moment is None or moment < self.since:
                return False
        if self.grep is not None and self.grep not in str(record.get("message", "")):
            return False
        return True

    def needles(self) -> list[str]:
        """Substrings every matching raw line must contain: a cheap filter before json.loads."""
        values = [self.function, self.request_id, trace_root(self.trace) if self.trace else None]
        return [json.dumps(v)[1:-1] for v in values if v]


class Stop(Protocol):
    def is_set(self) -> bool: ...


class LogStore(Protocol):
    def write(self, records: list[dict]) -> None: ...

    def close(self) -> None: ...

    def query(self, q: LogQuery) -> Iterator[dict]: ...

    def follow(self, q: LogQuery, stop: Stop) -> Iterator[dict]: ...


def _sort_key(record: dict) -> str:
    # Records share one time format, so text order is time order and needs no parsing.
    return str(record.get("time", ""))


def _newest(records: Iterable[dict], limit: int | None) -> list[dict]:
    ordered = sorted(records, key=_sort_key)
    return ordered[-limit:] if limit else ordered


class JsonLinesStore:
    """Append-only `<pid>-<seq>.jsonl` files: one writer per file, so several processes never interleave."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int = 16 * 1024 * 1024,
        keep: int = 4,
        max_total_bytes: int = 256 * 1024 * 1024,
        poll_s: float = 0.2,
        getpid: Callable[[], int] = os.getpid,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.keep = keep
        self.max_total_bytes = max_total_bytes
        self.poll_s = poll_s
        self._getpid = getpid
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._seq = 0
        self._size = 0

    # -- writing -------------------------------------------------------------------------------

    def write(self, records: list[dict]) -> None:
        if not records:
            return
        chunk = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records)
        data = chunk.encode("utf-8")
        with self._lock:
            self._ensure_open()
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
            assert self._fd is not None
            os.write(self._fd, data)
            self._size += len(data)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _path(self, pid: int, seq: int) -> Path:
        return self.directory / f"{pid}-{seq:06d}.jsonl"

    def _ensure_open(self) -> None:
        pid = self._getpid()
        if self._fd is not None and pid == self._pid:
            return
        if self._fd is not None:  # forked: the parent's file belongs to the parent
            os.close(self._fd)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pid = pid
        seqs = [seq for p, seq, _ in self._files() if p == pid]
        self._seq = max(seqs, default=0)
        self._open()

    def _open(self) -> None:
        path = self._path(self._pid, self._seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._seq += 1
        self._open()
        self._prune()

    def _prune(self) -> None:
        files = self._files()
        active = self._path(self._pid, self._seq)
        mine = sorted(seq for p, seq, _ in files if p == self._pid)
        for seq in mine[: max(0, len(mine) - self.keep - 1)]:
            self._path(self._pid, seq).unlink(missing_ok=True)
        sized = []
        for _, _, path in self._files():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            sized.append((stat.st_mtime, path, stat.st_size))
        total = sum(size for _, _, size in sized)
        for _, path, size in sorted(sized):
            if total <= self.max_total_bytes:
                break
            if path != active:
                path.unlink(missing_ok=True)
                total -= size

    def _files(self) -> list[tuple[int, int, Path]]:
        found = []
        if not self.directory.is_dir():
            return found
        for path in self.directory.glob("*-*.jsonl"):
            pid, _, seq = path.stem.partition("-")
            if pid.isdigit() and seq.isdigit():
                found.append((int(pid), int(seq), path))
        return sorted(found)

    # -- reading -------------------------------------------------------------------------------

    def query(self, q: LogQuery) -> Iterator[dict]:
        sizes = {path: _size(path) for _, _, path in self._files()}
        return iter(_newest(self._read_all(q, sizes, {}), q.limit))

    def follow(self, q: LogQuery, stop: Stop) -> Iterator[dict]:
        """The newest matches first, then every new matching record until `stop` is set."""
        offsets: dict[Path, int] = {}
        sizes = {path: _size(path) for _, _, path in self._files()}
        yield from _newest(self._read_all(q, sizes, offsets), q.limit)
        while not stop.is_set():
            sizes = {path: _size(path) for _, _, path in self._files()}
            fresh = list(self._read_all(q, sizes, offsets))
            for gone in set(offsets) - set(sizes):
                del offsets[gone]
            if fresh:
                yield from sorted(fresh, key=_sort_key)
            else:
                time.sleep(self.poll_s)

    def _read_all(self, q: LogQuery, sizes: dict[Path, int], offsets: dict[Path, int]) -> Iterator[dict]:
        needles = q.needles()
        for path, size in sizes.items():
            start = offsets.get(path, 0)
            if size <= start:
                continue
            try:
                with open(path, "rb") as handle:
                    handle.seek(start)
                    data = handle.read(size - start)
            except FileNotFoundError:
                continue
            # A writer may be mid-line: consume only complete lines, the rest is read next time.
            end = data.rfind(b"\n") + 1
            offsets[path] = start + end
            for raw in data[:end].decode("utf-8", "replace").splitlines():
                if not all(n in raw for n in needles):
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and q.matches(record):
                    yield record


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


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
        return iter(_newest((r for r in rows if q.matches(r)), q.limit))

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
                latest = max(latest, *(_sort_key(r) for r in fresh))
                # Keep only keys at the newest timestamp: they are the ones the next poll returns again.
                seen = {k for k in seen if latest in k}
                current = LogQuery(q.function, parse_time(latest), q.trace, q.request_id, q.grep, None)
            if stop.is_set():
                return
            time.sleep(self.poll_s)


def open_store(settings: RuntimeSettings) -> LogStore:
    """The log store the settings name: `local` (JSON lines under logs/) or `victorialogs`."""
    if settings.log_store == "victorialogs":
        if not settings.victorialogs_url:
            raise ValueError("ESB_LOG_STORE=victorialogs needs ESB_VICTORIALOGS_URL")
        return VictoriaLogsStore(settings.victorialogs_url)
    if settings.log_store != "local":
        raise ValueError(f"unknown log store {settings.log_store!r} (expected local or victorialogs)")
    return JsonLinesStore(settings.logs_dir)
