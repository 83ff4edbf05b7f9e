"""One uid/gid per function (process engine as root), recorded in the box state and kept across restarts.

The range 64000-64999 is ours (documented in the README): within Debian's 60000-64999 block of ids no
package allocates dynamically, below nobody (65534). A uid that /etc/passwd names, or that a process runs as
when it is allocated (another box's function), is skipped. The uid doubles as the function's gid: the
function's staged code is group-owned by it, so only that function may read it.
"""

from __future__ import annotations

import json
import os
import pwd
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from esb_runtime.errors import EngineError

FIRST_UID = 64000
LAST_UID = 64999
BOOK_FILE = "identities.json"


@dataclass(frozen=True)
class Identity:
    """An unprivileged user sandboxes run as (no supplementary groups)."""

    user: str
    uid: int
    gid: int


def live_uids(proc: Path = Path("/proc")) -> set[int]:
    """The real uids of running processes (another box's sandboxes among them)."""
    found: set[int] = set()
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                found.add(entry.stat().st_uid)
            except OSError:
                continue  # gone meanwhile
    return found


def _taken(uid: int) -> bool:
    """A uid /etc/passwd names, or one a process runs as now (e.g. a function of another box on this host)."""
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return uid in live_uids()


class IdentityBook:
    """function name -> Identity, allocated on first use and written to `<state>/identities.json` (0600)."""

    def __init__(self, path: Path, *, first: int = FIRST_UID, last: int = LAST_UID,
                 taken: Callable[[int], bool] = _taken) -> None:
        self.path, self.first, self.last, self._taken = path, first, last, taken
        self._lock = threading.Lock()
        self._uids: dict[str, int] = self._load()

    @classmethod
    def of_box(cls, state_dir: Path) -> "IdentityBook":
        return cls(state_dir / BOOK_FILE)

    def _load(self) -> dict[str, int]:
        try:
            raw: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: allocate afresh (ids only matter while sandboxes run)
        functions = raw.get("functions") if isinstance(raw, dict) else None
        if not isinstance(functions, dict):
            return {}
        return {str(name): int(uid) for name, uid in functions.items()
                if isinstance(uid, int) and self.first <= uid <= self.last}

    def identity(self, function: str) -> Identity:
        with self._lock:
            uid = self._uids.get(function)
            if uid is None:
                uid = self._allocate()
                self._uids[function] = uid
                self._save()
        return Identity(user=f"esb-fn-{uid}", uid=uid, gid=uid)

    def recorded(self) -> dict[str, int]:
        with self._lock:
            return dict(self._uids)

    def _allocate(self) -> int:
        used = set(self._uids.values())
        for uid in range(self.first, self.last + 1):
            if uid not in used and not self._taken(uid):
                return uid
        raise EngineError(f"no free sandbox uid left in {self.first}-{self.last} ({len(used)} functions recorded "
                          f"in {self.path}); remove functions no longer in the template from it")

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"range": [self.first, self.last], "functions": dict(sorted(self._uids.items()))},
                          indent=2, sort_keys=True) + "\n"
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, self.path)
