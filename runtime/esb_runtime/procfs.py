"""What /proc says about a process: its start time (to tell a PID from a reused one), group and session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    start_ticks: int  # field 22: clock ticks after boot; a reused PID has a later one


def stat(pid: int, proc_root: Path = PROC) -> ProcStat | None:
    """The process's /proc/<pid>/stat, or None when there is no such process."""
    try:
        text = (proc_root / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    return _parse(pid, text)


def _parse(pid: int, text: str) -> ProcStat | None:
    # The command name (field 2) may hold spaces and parentheses: the fields after it start at the last ")".
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) < 20:
        return None
    return ProcStat(pid=pid, state=fields[0], ppid=int(fields[1]), pgid=int(fields[2]), sid=int(fields[3]),
                    start_ticks=int(fields[19]))


def start_ticks(pid: int) -> int | None:
    found = stat(pid)
    return None if found is None else found.start_ticks


def same_process(pid: int, ticks: int) -> bool:
    """Whether `pid` is still the live (not zombie) process that had start time `ticks` (0: any)."""
    found = stat(pid)
    return found is not None and found.state != "Z" and (ticks == 0 or found.start_ticks == ticks)


def members(*, pgid: int | None = None, sid: int | None = None, born_after: int = 0,
            proc_root: Path = PROC) -> list[int]:
    """Live processes of a process group or session, started at or after `born_after` ticks."""
    found = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        st = stat(int(entry.name), proc_root)
        if st is None or st.state == "Z" or st.start_ticks < born_after:
            continue
        if (pgid is not None and st.pgid == pgid) or (sid is not None and st.sid == sid):
            found.append(st.pid)
    return found


def real_uid(pid: int, proc_root: Path = PROC) -> int | None:
    """The process's real uid from its status (the /proc/<pid> dir's owner is root for a non-dumpable one)."""
    try:
        lines = (proc_root / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None
    found = next((line.split()[1] for line in lines if line.startswith("Uid:")), None)
    return None if found is None else int(found)


def running_as(uid: int, proc_root: Path = PROC) -> list[int]:
    """Live processes whose real uid is `uid`."""
    return [int(entry.name) for entry in proc_root.iterdir()
            if entry.name.isdigit() and real_uid(int(entry.name), proc_root) == uid]
