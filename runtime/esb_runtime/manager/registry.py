"""Which process-engine sandboxes are alive, on disk: so no sandbox outlives a manager that was killed.

One small JSON file per sandbox under state/sandboxes/ (written at start, removed at stop) names its session
(the RIE's PID) and the RIE's start time. A restarted manager and `esb down` read it and kill what is left;
the start time keeps them from signalling a process that merely reuses a recorded PID.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from esb_runtime import procfs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    sandbox: str
    function: str
    config_hash: str
    sid: int  # the RIE's PID: it leads its own session, which holds the runtime and whatever the handler forks
    start_ticks: int


class SandboxRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def of_box(cls, state_dir: Path) -> "SandboxRegistry":
        """The box's registry: read by the next manager and by `esb down`."""
        return cls(state_dir / "sandboxes")

    def add(self, entry: Entry) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(entry.sandbox)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(entry)), encoding="utf-8")
        os.replace(partial, path)

    def remove(self, sandbox: str) -> None:
        self._path(sandbox).unlink(missing_ok=True)

    def entries(self) -> list[Entry]:
        found = []
        for path in sorted(self.directory.glob("sb-*.json")) if self.directory.is_dir() else []:
            try:
                found.append(Entry(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                path.unlink(missing_ok=True)  # torn by a crash mid-write: its sandbox never became ready
        return found

    def sweep(self) -> list[Entry]:
        """Kill every recorded sandbox that is still running and forget all entries; returns those killed."""
        killed = []
        for entry in self.entries():
            if kill_leftover(entry):
                killed.append(entry)
            self.remove(entry.sandbox)
        if killed:
            log.info("stopped %d sandbox(es) left by a previous manager", len(killed))
        return killed

    def _path(self, sandbox: str) -> Path:
        return self.directory / f"{sandbox}.json"


def kill_leftover(entry: Entry, attempts: int = 5) -> bool:
    """SIGKILL the recorded session's processes born with or after its RIE; True when any was found."""
    found = False
    for _ in range(attempts):
        pids = procfs.members(sid=entry.sid, born_after=entry.start_ticks)
        if not pids:
            return found
        found = True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return found
