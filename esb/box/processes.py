"""Start, watch and stop the box's long-running processes, each in its own process group."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from esb.errors import BoxError
from esb_runtime import procfs


@dataclass(frozen=True)
class Proc:
    """A process the box started: its name, PID (= process group id), log file, and how to start it again."""

    name: str
    pid: int
    log_file: str
    start_ticks: int = 0  # /proc start time: a PID reused by another process is not this one (0: unknown)
    argv: tuple[str, ...] = ()
    cwd: str = ""
    ready: str = ""  # a probe (esb.box.probes) that says when it serves

    def alive(self) -> bool:
        if not pid_alive(self.pid):
            return False
        return self.start_ticks == 0 or procfs.start_ticks(self.pid) in (None, self.start_ticks)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return _not_zombie(pid)
    return done == 0


def _not_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def spawn(name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_dir: Path,
          stdin: int | None = None) -> Proc:
    """Start argv detached in a new session, its stdout and stderr appended to log_dir/<name>.out.

    The file itself, opened O_APPEND, with no pump process in between: the service keeps its own pid (what the
    box records, supervises and stops), and the supervisor keeps the file capped (esb_runtime.logs.capped).
    """
    # Imported here: the supervisor, which lives as long as the box, needs it only to restart a part (issue 14).
    import subprocess

    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}.out"
    try:
        out = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise BoxError(f"cannot open the log of {name}: {exc}", hint=f"check {log_dir}") from exc
    try:
        child = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL if stdin is None else stdin,
                                 stdout=out, stderr=out, start_new_session=True)
    except OSError as exc:
        raise BoxError(f"cannot start {name}: {exc}", hint=f"command: {argv[0]}") from exc
    finally:
        os.close(out)  # the service holds it now
    return Proc(name=name, pid=child.pid, log_file=str(log_file), start_ticks=procfs.start_ticks(child.pid) or 0,
                argv=tuple(argv), cwd=str(cwd))


def stop(proc: Proc, *, grace_s: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it after the grace period."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        except PermissionError as exc:
            raise BoxError(f"cannot stop {proc.name} (pid {proc.pid}): {exc}") from exc
        if wait_until(lambda: not proc.alive(), wait_s):
            _kill_stragglers(proc.pid)
            return
    raise BoxError(f"{proc.name} (pid {proc.pid}) did not stop")


def _kill_stragglers(pgid: int) -> None:
    # Children that outlived their leader keep the group id; they must go too.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_orphans(proc: Proc) -> list[int]:
    """SIGKILL what is left of a dead process's group (gunicorn workers hold the gateway's port); their PIDs."""
    if proc.start_ticks == 0:
        return []  # without its start time a recorded PID may name someone else's group by now
    pids = procfs.members(pgid=proc.pid, born_after=proc.start_ticks)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return pids


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
