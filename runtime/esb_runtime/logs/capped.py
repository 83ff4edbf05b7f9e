"""A size-capped, rotated log file fed from a pipe: `SERVICE | python -m esb_runtime.logs.capped FILE`.

The box's processes run detached; whatever they print (tracebacks included) must not fill the disk. The pump
writes what it reads to FILE, rotates FILE to FILE.1..FILE.<keep> at `max_bytes`, cuts over-long lines and
folds runs of one repeated line into a single count.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import BinaryIO, Sequence

MAX_BYTES = 4 * 1024 * 1024
KEEP = 3
MAX_LINE = 8 * 1024


class CappedFile:
    """Appends lines to a file, rotating it so that at most (keep + 1) * max_bytes is ever on disk."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES, keep: int = KEEP, max_line: int = MAX_LINE) -> None:
        self.path, self.max_bytes, self.keep, self.max_line = path, max_bytes, keep, max_line
        self._out: BinaryIO = open(path, "ab")
        self._size = self._out.tell()
        self._last: bytes | None = None
        self._repeats = 0

    def write_line(self, line: bytes) -> None:
        if len(line) > self.max_line:
            line = line[: self.max_line] + b"... [line cut]\n"
        if line == self._last:
            self._repeats += 1  # a line printed in a loop costs one counter, not the disk
            return
        self._flush_repeats()
        self._last = line
        self._append(line)

    def close(self) -> None:
        self._flush_repeats()
        self._out.close()

    def _flush_repeats(self) -> None:
        if self._repeats:
            self._append(f"[previous line repeated {self._repeats} more times]\n".encode())
            self._repeats = 0

    def _append(self, data: bytes) -> None:
        if self._size + len(data) > self.max_bytes and self._size > 0:
            self._rotate()
        self._out.write(data)
        self._out.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._out.close()
        for index in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.keep > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._out = open(self.path, "ab")
        self._size = 0


def pump(source: BinaryIO, target: CappedFile) -> None:
    try:
        for line in iter(source.readline, b""):
            target.write_line(line if line.endswith(b"\n") else line + b"\n")
    finally:
        target.close()


def main(args: Sequence[str] | None = None) -> int:
    """`python -m esb_runtime.logs.capped FILE`: copy standard input into FILE, rotated and capped, until EOF.

    It reads a pipe rather than running the command itself, so the service keeps its own pid (what the box
    records and supervises); the pump ends when every writer of the pipe has gone."""
    parser = argparse.ArgumentParser(prog="esb_runtime.logs.capped")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    parser.add_argument("--keep", type=int, default=KEEP)
    parser.add_argument("file", type=Path)
    opts = parser.parse_args(args)
    # Stop requests are for the service; the pump keeps reading until the service has said its last word.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    pump(sys.stdin.buffer, CappedFile(opts.file, max_bytes=opts.max_bytes, keep=opts.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
