"""Log stores: where log records go (JSON-lines files here, VictoriaLogs in victorialogs.py) and queries."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

# format_time and trace_root are re-exported: callers import them from here.
from esb_runtime.logs.records import format_time, trace_root

__all__ = ["JsonLinesStore", "LogQuery", "LogStore", "Stop", "format_time", "newest", "parse_time", "time_order", "trace_root"]


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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
        if self.trace is not None and record.get("trace_id") != (trace_root(self.trace) or ""):
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


def time_order(record: dict) -> str:
    """Sort key of a record: records share one time format, so text order is time order (no parsing)."""
    return str(record.get("time", ""))


def newest(records: Iterable[dict], limit: int | None) -> list[dict]:
    """The newest `limit` records (all when None), oldest first."""
    ordered = sorted(records, key=time_order)
    return ordered[-limit:] if limit else ordered


def parse_owner(text: str) -> tuple[int, int] | None:
    """ESB_LOG_OWNER's "uid:gid"; None when unset."""
    if not text:
        return None
    uid, sep, gid = text.partition(":")
    if not (sep and uid.isdigit() and gid.isdigit()):
        raise ValueError(f"ESB_LOG_OWNER={text!r} must be uid:gid")
    return int(uid), int(gid)


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
        owner: tuple[int, int] | None = None,
    ) -> None:
        self.directory = Path(directory)
        # A compose stack's containers write as root into a directory of the host: its user must own what they
        # write, to read it (0600) and delete it.
        self._owner = owner
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
        if self._owner is not None:
            os.chown(self.directory, *self._owner)
        self._pid = pid
        seqs = [seq for p, seq, _ in self._files() if p == pid]
        self._seq = max(seqs, default=0)
        self._open()

    def _open(self) -> None:
        path = self._path(self._pid, self._seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if self._owner is not None:
            os.fchown(self._fd, *self._owner)
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
        return iter(newest(self._read_all(q, sizes, {}), q.limit))

    def follow(self, q: LogQuery, stop: Stop) -> Iterator[dict]:
        """The newest matches first, then every new matching record until `stop` is set."""
        offsets: dict[Path, int] = {}
        sizes = {path: _size(path) for _, _, path in self._files()}
        yield from newest(self._read_all(q, sizes, offsets), q.limit)
        while not stop.is_set():
            sizes = {path: _size(path) for _, _, path in self._files()}
            fresh = list(self._read_all(q, sizes, offsets))
            for gone in set(offsets) - set(sizes):
                del offsets[gone]
            if fresh:
                yield from sorted(fresh, key=time_order)
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
