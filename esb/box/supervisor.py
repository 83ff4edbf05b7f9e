"""The box's supervisor: one process per box that restarts a dead gateway, manager, stores or bridge.

`esb up` starts the parts, then this process (`python -m esb.box.supervisor`), which watches them by PID and
start time, restarts a dead one with backoff, records every restart in state/box.json (and the log store), and
gives up on a part that crashes too often. `esb down` stops it first, so it never restarts what down stops.
Each tick it also keeps every part's log file, and its own, capped (esb_runtime.logs.capped: no process per log).

A small loop of our own rather than supervisord or circus: the parts are already started (and provisioned) by
`esb up`, so the supervisor must adopt running processes it did not fork, keep its record in box.json that
status/down/watch read, and stop with the box; those tools want to start everything themselves from their
own config file and keep their own state, and would be one more daemon to install and stop.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from esb.box import state as boxstate
from esb.box import processes as supervisor
from esb.box.state import BoxState, PartHealth
from esb.box.processes import Proc
from esb_runtime import procfs
from esb_runtime.logs import capped

NAME = "supervisor"
# Started beside the parts by `esb up`: it takes them over once told on its stdin that they are ready.
AFTER_START = "--after-start"
GO = b"go\n"
Say = Callable[[str, str], None]  # (level, message)


def probe_ready(probe: str) -> bool:
    """esb.box.probes.check, imported on the first restart: its HTTP and TLS clients are most of this otherwise
    idle process's memory (issue 14), and a box whose parts never crash never needs them."""
    from esb.box import probes

    return probes.check(probe)


@dataclass(frozen=True)
class RestartPolicy:
    max_crashes: int = 5  # crashes within window_s after which the supervisor gives up on a part
    window_s: float = 60.0
    first_delay_s: float = 0.0  # the first restart at once: a one-off crash costs only the start-up time
    max_delay_s: float = 8.0
    start_timeout_s: float = 60.0  # a restarted part not ready by then counts as a crash

    def delay(self, crashes: int) -> float:
        """Backoff before restart number `crashes` of the window: 0, 0.5, 1, 2, 4 ... capped."""
        if crashes <= 1:
            return self.first_delay_s
        return min(self.max_delay_s, 0.5 * 2 ** (crashes - 2))


def exit_of(proc: Proc) -> tuple[bool, int | None]:
    """(alive, exit status): a child of ours is reaped here so its status is known; others are looked up."""
    try:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:
        return proc.alive(), None
    if pid == 0:
        return True, None
    return False, os.waitstatus_to_exitcode(status)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class BoxSupervisor:
    """One pass at a time (`tick`): notice dead parts, restart them when their backoff is over, see them back."""

    def __init__(self, state: BoxState, state_dir: Path, *, env: Mapping[str, str], log_dir: Path,
                 policy: RestartPolicy = RestartPolicy(), say: Say = lambda level, text: None,
                 clock: Callable[[], float] = time.time,
                 spawn: Callable[..., Proc] = supervisor.spawn,
                 probe: Callable[[str], bool] = probe_ready,
                 status_of: Callable[[Proc], tuple[bool, int | None]] = exit_of,
                 stop: Callable[[Proc], None] = lambda proc: supervisor.stop(proc, grace_s=1.0),
                 clear_group: Callable[[Proc], object] = supervisor.kill_orphans,
                 cap_log: Callable[[str], object] = capped.cap) -> None:
        self.state, self.state_dir, self.env, self.log_dir = state, state_dir, env, log_dir
        self.policy, self.say, self.clock = policy, say, clock
        self._spawn, self._probe, self._status_of = spawn, probe, status_of
        self._stop, self._clear_group, self._cap_log = stop, clear_group, cap_log
        self._uncapped: set[str] = set()  # log files it failed to cap (said once each)
        self._due: dict[str, float] = {}  # part -> when its pending restart may start
        self._started: dict[str, float] = {}  # part -> when the running restart was spawned

    def reset_failed(self) -> None:
        """`esb up -d` on a degraded box: every part gets a fresh crash window (so restarts come at once), and
        parts given up on are tried again."""
        health = {name: replace(h, state="restarting" if h.state == "failed" else h.state, crashes=())
                  for name, h in self.state.health.items()}
        self._commit(replace(self.state, health=health))

    def tick(self) -> None:
        now = self.clock()
        procs = list(self.state.procs)
        health = dict(self.state.health)
        for index, proc in enumerate(procs):
            part = health.get(proc.name, PartHealth())
            if part.state == "failed":
                continue
            alive, code = self._status_of(proc)
            if alive:
                part = self._check_back(proc, part, now)
            elif proc.name not in self._due:
                part = self._crashed(proc, part, code, now)
            if proc.name in self._due and now >= self._due[proc.name]:
                procs[index], part = self._restart(proc, part, now)
            health[proc.name] = part
        self._commit(replace(self.state, procs=tuple(procs), health=health))
        self._cap_logs()

    def _cap_logs(self) -> None:
        """Every part's log file and its own, rotated in place when over its cap (esb_runtime.logs.capped)."""
        owners = [*self.state.procs, *([self.state.supervisor] if self.state.supervisor is not None else [])]
        for proc in owners:
            try:
                self._cap_log(proc.log_file)
            except OSError as exc:
                if proc.log_file not in self._uncapped:
                    self._uncapped.add(proc.log_file)
                    self.say("error", f"cannot cap {proc.log_file}: {exc}")

    def _check_back(self, proc: Proc, part: PartHealth, now: float) -> PartHealth:
        if part.state != "restarting":
            return part
        if self._probe(proc.ready):
            self.say("info", f"{proc.name} is back (pid {proc.pid}, {now - part.since:.1f} s after it went down)")
            self._started.pop(proc.name, None)
            return replace(part, state="up", since=0.0)
        if now - self._started.get(proc.name, now) > self.policy.start_timeout_s:
            self._stop(proc)
            return self._crashed(proc, part, None, now, why="did not become ready")
        return part

    def _crashed(self, proc: Proc, part: PartHealth, code: int | None, now: float, why: str = "") -> PartHealth:
        self._clear_group(proc)
        crashes = tuple(t for t in part.crashes if now - t < self.policy.window_s) + (now,)
        since = part.since if part.state == "restarting" and part.since else now
        what = why or describe_exit(code)
        if len(crashes) >= self.policy.max_crashes:
            self.say("error", f"{proc.name} {what}; {len(crashes)} crashes within {self.policy.window_s:.0f} s: "
                              f"not restarting it (see {proc.log_file}; `esb up -d` tries again)")
            return replace(part, state="failed", since=since, last_exit=code, crashes=crashes)
        delay = self.policy.delay(len(crashes))
        self.say("warn", f"{proc.name} (pid {proc.pid}) {what}; restarting it in {delay:.1f} s")
        self._due[proc.name] = now + delay
        return replace(part, state="restarting", since=since, last_exit=code, crashes=crashes)

    def _restart(self, proc: Proc, part: PartHealth, now: float) -> tuple[Proc, PartHealth]:
        del self._due[proc.name]
        self._clear_group(proc)
        try:
            fresh = self._spawn(proc.name, proc.argv, env=self.env, cwd=Path(proc.cwd or "."), log_dir=self.log_dir)
        except Exception as exc:  # noqa: BLE001 - a part that cannot even be spawned is a crash like any other
            self.say("error", f"cannot restart {proc.name}: {exc}")
            return proc, self._crashed(proc, part, None, now, why="could not be spawned")
        self._started[proc.name] = now
        fresh = replace(fresh, ready=proc.ready)
        self.say("info", f"restarted {proc.name} as pid {fresh.pid} (restart {part.restarts + 1})")
        return fresh, replace(part, restarts=part.restarts + 1, last_restart_at=now)

    def _commit(self, state: BoxState) -> None:
        if state != self.state:
            self.state = state
            boxstate.write(self.state_dir, state)

    def run(self, stop: threading.Event, interval_s: float = 0.1) -> None:
        while not stop.is_set():
            self.tick()
            stop.wait(interval_s)


# --- the process: `python -m esb.box.supervisor [--reset]` (environment: the box's, see box.up) ----------

def lock(state_dir: Path) -> Any:
    """One supervisor per box: an exclusive lock held for the process's lifetime, or None if it is taken."""
    handle = open(state_dir / "supervisor.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def note(level: str, text: str) -> None:
    """A line in the supervisor's own log file (.esb/logs/supervisor.out)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor {level}: {text}", flush=True)


def _logger(settings: Any) -> Say:
    """Each line noted and recorded in the box's log store, which is opened at the first line: a box whose parts
    never crash never loads the store's modules into this otherwise idle process (issue 14)."""
    stores: list[Any] = []

    def say(level: str, text: str) -> None:
        note(level, text)
        try:
            from esb_runtime.logs.factory import open_store
            from esb_runtime.logs.records import rfc3339

            if not stores:
                stores.append(open_store(settings))
            stores[0].write([{"time": rfc3339(time.time()), "level": level, "source": NAME, "function": None,
                              "sandbox": None, "request_id": None, "trace_id": None, "message": text}])
        except Exception:  # noqa: BLE001 - the log store being down must not stop the supervision
            pass

    return say


def main(argv: list[str]) -> int:
    from esb_runtime.settings import RuntimeSettings

    settings = RuntimeSettings.from_env()
    held = lock(settings.state_dir)
    if held is None:
        print("supervisor: another supervisor runs this box", file=sys.stderr)
        return 1
    if AFTER_START in argv and sys.stdin.buffer.readline() != GO:  # end of input: `esb up` failed or died
        print("supervisor: the box did not start; nothing to supervise", file=sys.stderr)
        return 1
    state = boxstate.read(settings.state_dir)
    if state is None:
        print(f"supervisor: no box recorded in {settings.state_dir}", file=sys.stderr)
        return 1
    me = supervisor.Proc(name=NAME, pid=os.getpid(), log_file=str(settings.logs_dir / f"{NAME}.out"),
                         start_ticks=procfs.start_ticks(os.getpid()) or 0, argv=(sys.executable, "-m", __name__))
    boxstate.write(settings.state_dir, replace(state, supervisor=me))
    say = _logger(settings)
    watcher = BoxSupervisor(replace(state, supervisor=me), settings.state_dir, env=dict(os.environ),
                            log_dir=settings.logs_dir, say=say)
    if "--reset" in argv:
        watcher.reset_failed()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    note("info", f"supervising {', '.join(p.name for p in state.procs)} (pid {os.getpid()})")
    watcher.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
