"""A size-capped, rotated log file fed from a pipe: `SERVICE | python -m esb_runtime.logs.capped FILE`.

The box's processes run detached; whatever they print (tracebacks included) must not fill the disk. The pump
writes what it reads to FILE, rotates FILE to FILE.1..FILE.<keep> at `max_bytes`, cuts over-long lines and
folds runs of one repeated line into a single count.

Every part of a box has its own pump for its whole life, so the pump imports only modules the interpreter has
loaded anyway (no argparse, pathlib or typing: ~4 MB of RSS each, issue 14); esb.box.processes runs it as
`python -I -S <this file>`.
"""

from __future__ import annotations

import os
import signal
import sys
from io import BufferedIOBase

MAX_BYTES = 4 * 1024 * 1024
KEEP = 3
MAX_LINE = 8 * 1024


class CappedFile:
    """Appends lines to a file, rotating it so that at most (keep + 1) * max_bytes is ever on disk."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES, keep: int = KEEP,
                 max_line: int = MAX_LINE) -> None:
        self.path, self.max_bytes, self.keep, self.max_line = os.fspath(path), max_bytes, keep, max_line
        self._out = open(self.path, "ab")
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
            older = f"{self.path}.{index}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{index + 1}")
        if self.keep > 0:
            os.replace(self.path, f"{self.path}.1")
        elif os.path.exists(self.path):
            os.unlink(self.path)
        self._out = open(self.path, "ab")
        self._size = 0


def pump(source: BufferedIOBase, target: CappedFile) -> None:
    try:
        for line in iter(source.readline, b""):
            target.write_line(line if line.endswith(b"\n") else line + b"\n")
    finally:
        target.close()


USAGE = "usage: capped.py [--max-bytes N] [--keep N] FILE"


def parse(args: list[str]) -> tuple[str, int, int]:
    """(file, max_bytes, keep) from `[--max-bytes N] [--keep N] FILE`; ValueError with the usage otherwise."""
    options, rest = {"--max-bytes": MAX_BYTES, "--keep": KEEP}, list(args)
    while len(rest) > 1 and rest[0] in options:
        name, value = rest.pop(0), rest.pop(0)
        if not value.isdigit():
            raise ValueError(f"{name} takes a whole number, not {value!r}; {USAGE}")
        options[name] = int(value)
    if len(rest) != 1 or rest[0].startswith("-"):
        raise ValueError(USAGE)
    return rest[0], options["--max-bytes"], options["--keep"]


def main(args: list[str] | None = None) -> int:
    """`python -m esb_runtime.logs.capped FILE`: copy standard input into FILE, rotated and capped, until EOF.

    It reads a pipe rather than running the command itself, so the service keeps its own pid (what the box
    records and supervises); the pump ends when every writer of the pipe has gone."""
    try:
        path, max_bytes, keep = parse(sys.argv[1:] if args is None else args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    # Stop requests are for the service; the pump keeps reading until the service has said its last word.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    pump(sys.stdin.buffer, CappedFile(path, max_bytes=max_bytes, keep=keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
