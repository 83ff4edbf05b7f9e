"""Write-ahead journal of the stores: numbered append-only segments, CRC-framed records, group commit."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Callable, Iterator

_MAGIC = b"ESBJ"
_FRAME = struct.Struct("<4sII")  # magic, payload length, crc32 of the payload
_SUFFIX = ".log"


def segment_path(folder: Path, number: int) -> Path:
    return folder / f"{number:012d}{_SUFFIX}"


def segments(folder: Path) -> list[int]:
    """Numbers of the segment files in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob(f"*{_SUFFIX}") if p.stem.isdigit())


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def write_records(path: Path, payloads: list[bytes]) -> None:
    """A whole segment-format file at once (a snapshot's carried-over records), fsynced."""
    with open(path, "wb") as handle:
        for payload in payloads:
            handle.write(frame(payload))
        handle.flush()
        os.fsync(handle.fileno())


def read_segment(path: Path) -> Iterator[bytes]:
    """The payloads of one segment in order; a torn or corrupt tail ends it.

    A record is acknowledged only after its fsync, so a record cut short by a crash was never answered:
    dropping it (and anything after it in that segment, which cannot exist) loses no acknowledged write.
    """
    data = path.read_bytes()
    offset = 0
    while offset + _FRAME.size <= len(data):
        magic, length, crc = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        payload = data[start:start + length]
        if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            return
        yield payload
        offset = start + length


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root`: a snapshot replaces journal segments, so it must be on disk."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def drop_upto(folder: Path, number: int) -> None:
    """Delete the segments a snapshot now covers."""
    for old in segments(folder):
        if old <= number:
            segment_path(folder, old).unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Appends records to the open segment; `wait_durable` returns once they are on disk.

    Group commit: appends only reach the page cache; the first waiter fsyncs for every record written
    so far while later waiters queue behind it, so N concurrent writers share one fsync.
    """

    def __init__(self, folder: Path, first_segment: int, sync: Callable[[int], None] = os.fdatasync) -> None:
        self.folder = folder
        self._sync = sync
        self._lock = threading.Lock()  # orders appends and segment switches
        self._cond = threading.Condition()
        self._written = 0  # sequence number of the last appended record
        self._durable = 0  # ... and of the last one known to be on disk
        self._syncing = False
        self.records_in_segment = 0
        self.bytes_in_segment = 0
        folder.mkdir(parents=True, exist_ok=True)
        self.segment = first_segment
        self._fd = self._open(first_segment)

    def _open(self, number: int) -> int:
        fd = os.open(segment_path(self.folder, number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_dir(self.folder)  # the new file's name must survive a crash too
        self.records_in_segment = 0
        self.bytes_in_segment = 0
        return fd

    def append(self, payload: bytes) -> int:
        """Write one record (not yet durable); returns its sequence number for `wait_durable`."""
        data = frame(payload)
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            self._written += 1
            self.records_in_segment += 1
            self.bytes_in_segment += len(data)
            return self._written

    def wait_durable(self, seq: int) -> None:
        with self._cond:
            while self._durable < seq:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._fd
                self._cond.release()
                try:
                    self._sync(fd)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._durable = max(self._durable, target)

    def rotate(self) -> int:
        """Seal the open segment and start the next one; returns the sealed segment's number."""
        with self._cond:
            while self._syncing:  # never close the descriptor a group commit is syncing
                self._cond.wait()
            self._syncing = True
        try:
            with self._lock:
                self._sync(self._fd)
                os.close(self._fd)
                sealed, target = self.segment, self._written
                self.segment += 1
                self._fd = self._open(self.segment)
        finally:
            with self._cond:
                self._syncing = False
                self._cond.notify_all()
        with self._cond:
            self._durable = max(self._durable, target)
        return sealed

    def close(self) -> None:
        with self._lock:
            self._sync(self._fd)
            os.close(self._fd)
