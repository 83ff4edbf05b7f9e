"""The host-wide record of which box holds each sandbox uid, so two boxes on one host never share one.

A box's own book (`<state>/identities.json`) knows only its own uids, and /proc shows another box's uids only
while that box runs: a box that was down when a second one allocated would hand the same uid out twice. So every
allocation goes through `/var/lib/esb/uids.json` (uid -> the book holding it) under an flock of a root-owned
0700 directory, and the book is written while the lock is held. An entry whose book is gone, or no longer
lists the uid, is free again: deleting a project (or its `.esb/`) gives its uids back without a release step.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from esb_runtime.errors import EngineError

HOST_DIR = Path("/var/lib/esb")
REGISTRY_FILE = "uids.json"
LOCK_FILE = "uids.lock"

# (book path, uid) -> whether that book still records the uid; unreadable books count as holding it.
Holds = Callable[[Path, int], bool]


class Claims:
    """The registry's entries while the lock is held: who holds a uid (stale holders dropped), and claiming one."""

    def __init__(self, owners: dict[int, str], me: Path, holds: Holds) -> None:
        self.owners, self.me, self._holds = owners, str(me), holds
        self.changed = False

    def held_by_other(self, uid: int) -> bool:
        owner = self.owners.get(uid)
        if owner is None or owner == self.me:
            return False
        if self._holds(Path(owner), uid):
            return True
        del self.owners[uid]  # its box is gone or gave the uid up
        self.changed = True
        return False

    def claim(self, uid: int) -> None:
        if self.owners.get(uid) != self.me:
            self.owners[uid] = self.me
            self.changed = True


class HostUids:
    """`<directory>/uids.json` behind `<directory>/uids.lock`; `directory` must be the box user's own, 0700."""

    def __init__(self, directory: Path = HOST_DIR, *, geteuid: Callable[[], int] = os.geteuid) -> None:
        self.directory, self._geteuid = directory, geteuid

    @contextmanager
    def locked(self, me: Path, holds: Holds) -> Iterator[Claims]:
        """The claims as `me` (a book path); saved on exit when changed. Other boxes wait meanwhile."""
        self._secure()
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            claims = Claims(self._load(), me, holds)
            yield claims
            if claims.changed:
                self._save(claims.owners)
        finally:
            os.close(fd)  # releases the lock

    def _secure(self) -> None:
        """Refuse a directory someone else could write: they could hand two boxes one uid."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = self.directory.lstat()
        except OSError as exc:
            raise EngineError(f"cannot create {self.directory} for the host's sandbox uids: {exc.strerror}") from exc
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != self._geteuid() or st.st_mode & 0o022:
            raise EngineError(f"{self.directory} must be a directory of uid {self._geteuid()} that no one else may "
                              f"write (it records which box holds each sandbox uid): chown/chmod 700 it")

    def _load(self) -> dict[int, str]:
        try:
            raw: Any = json.loads((self.directory / REGISTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or damaged (then each box re-claims its recorded uids as it uses them)
        uids = raw.get("uids") if isinstance(raw, dict) else None
        if not isinstance(uids, dict):
            return {}
        return {int(uid): str(book) for uid, book in uids.items() if str(uid).isdigit()}

    def _save(self, owners: dict[int, str]) -> None:
        path = self.directory / REGISTRY_FILE
        text = json.dumps({"uids": {str(uid): owners[uid] for uid in sorted(owners)}}, indent=2) + "\n"
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
