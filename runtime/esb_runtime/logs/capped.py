"""The parts' own log files (`.esb/logs/<part>.out`), kept rotated and capped in place by their watcher.

Every part of a box (stores, manager, gateway, supervisor) writes its stdout and stderr, tracebacks included,
straight into its file, opened with O_APPEND (esb.box.processes.spawn); the supervisor, which looks at the parts
every tenth of a second anyway, calls `cap` on every file. A file over `max_bytes` has its newest `max_bytes`
(from a line start) copied to FILE.1 (FILE.1.. shifted up to FILE.<keep>) and is then truncated in place: every
writer appends, so it goes on at the new end of the same file (logrotate's copytruncate). Renaming instead would
leave whoever holds the descriptor, a gunicorn worker or any child that inherited it, writing to the renamed file.

Why not a pump process per part any more (issue 14): four `python` pumps were 38 MB of the box's 217 MB RSS and
four more interpreters to boot on every `esb up`, only to copy bytes a file takes directly; and a pump's death
broke its part's output (EPIPE), while a file never does. What it costs, knowingly:
- Lines written between the last copy and the truncation (microseconds, only at a rotation) are lost.
- On disk: at most keep * max_bytes in the rotated files, plus the live file, which a flood can push past
  max_bytes by what it writes in one supervisor tick. A flood between two ticks loses its oldest lines.
- While the supervisor itself is down nobody rotates: `esb status` says the box is degraded, `esb up -d` starts
  a new supervisor, and a foreground `esb up` (and so the systemd unit) stops the box the moment it dies.
- The pumps also folded runs of one repeated line and cut lines over 8 KB: readability, not disk safety (the
  rotation bounds the disk), and the one part exposed to noise from outside, the gateway, already writes at most
  one line per source and interval (gateway.connections.NoiseLog).
"""

from __future__ import annotations

import os

MAX_BYTES = 4 * 1024 * 1024
KEEP = 3
_CHUNK = 1024 * 1024
_LINE_SEARCH = 64 * 1024  # how far into the kept tail a line start is looked for
_PASSES = 3  # copies chasing a writer before the truncation; each shortens the window in which lines are lost
_ROOM = 64 * 1024  # left in the copy for those later passes


def cap(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> bool:
    """Rotate `path` if it holds more than max_bytes; whether it did. A missing file is left alone."""
    path = os.fspath(path)
    try:
        if os.stat(path).st_size <= max_bytes:
            return False
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        tail = _copy_tail(fd, max_bytes, f"{path}.1") if keep > 0 else None
    except OSError:  # no room for the copy (a full disk, perhaps this very file): the truncation frees it
        tail = None
    try:
        os.ftruncate(fd, 0)  # right after the last copy: what a writer adds in between is lost
    finally:
        os.close(fd)
    _shift(path, keep)
    if tail is not None:
        os.replace(tail, f"{path}.1")
    return True


def _shift(path: str, keep: int) -> None:
    for index in range(keep - 1, 0, -1):
        older = f"{path}.{index}"
        if os.path.exists(older):
            os.replace(older, f"{path}.{index + 1}")


def _copy_tail(fd: int, max_bytes: int, target: str) -> str:
    """The file's newest bytes, from a line start, copied beside target (never more than max_bytes); the copy's
    path. It leaves room for what a writer adds while it copies (a copy made while a part writes keeps those
    lines too, up to the cap)."""
    end = os.fstat(fd).st_size
    start = _line_start(fd, max(0, end - (max_bytes - min(_ROOM, max_bytes // 4))))
    room = max_bytes
    tmp = f"{target}.{os.getpid()}.tmp"
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        for _ in range(_PASSES):
            room -= _copy(fd, start, min(end, start + room), out)
            start, end = end, os.fstat(fd).st_size
            if end <= start or room <= 0:
                break
    except OSError:
        os.unlink(tmp)
        raise
    finally:
        os.close(out)
    return tmp


def _line_start(fd: int, offset: int) -> int:
    if offset == 0:
        return 0
    head = os.pread(fd, _LINE_SEARCH, offset - 1)
    newline = head.find(b"\n")
    return offset if newline < 0 else offset + newline  # a line longer than the search keeps its cut end


def _copy(fd: int, start: int, end: int, out: int) -> int:
    """Bytes start..end of fd appended to out; how many."""
    done = 0
    while start + done < end:
        data = os.pread(fd, min(_CHUNK, end - start - done), start + done)
        if not data:
            break
        done += len(data)
        while data:
            data = data[os.write(out, data):]
    return done
