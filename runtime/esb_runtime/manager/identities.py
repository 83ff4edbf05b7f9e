"""One uid per sandbox slot of each function (process engine as root), recorded in the box state and kept across
restarts; the function's first uid doubles as its gid.

Why a uid per slot, not per function: two sandboxes of one function under one uid could read each other's
/proc/<pid>/environ and memory, signal each other, and pass each other's firewall grant (it matches the owner
uid), so one could take the other's events from its runtime API's `/next`. A uid per slot closes all of these
with the one mechanism that already separates functions. An owner match by cgroup (`-m cgroup --path`;
`--pid-owner` is gone from modern kernels) would guard the ports only, not /proc or signals, and needs a cgroup v2
hierarchy the manager may write to (hybrid v1/v2 hosts, this one among them, do not give it one). Slots are leased
(`take`/`give_back`): a function has as many uids as it ever ran sandboxes at once (at most its concurrency),
and a slot's uid is reused only after every process of its previous sandbox is gone.

The range 64000-64999 is ours (documented in the README): within Debian's 60000-64999 block of ids no
package allocates dynamically, below nobody (65534). A uid /etc/passwd names, one a process runs as, or one the
host-wide registry (host_uids.py) gives to another box is skipped. The staged code is group-owned by the
function's gid, so only that function's sandboxes may read it.
"""

from __future__ import annotations

import json
import os
import pwd
import threading
from dataclasses import dataclass
from pathlib import Path
from contextlib import nullcontext
from typing import Any, Callable

from esb_runtime.errors import EngineError
from esb_runtime.manager.host_uids import HOST_DIR, Claims, HostUids

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


def book_holds(path: Path, uid: int) -> bool:
    """Whether the book at `path` (another box's) still records `uid`; an unreadable one is taken to hold it."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except OSError:
        return True
    except ValueError:
        return False  # damaged: its box allocates afresh on its next start anyway
    return uid in {u for uids in parse_functions(raw, 0, 2**32).values() for u in uids}


def parse_functions(raw: Any, first: int, last: int) -> dict[str, list[int]]:
    """function -> slot uids from a book's JSON; an older book's single uid is slot 0; out-of-range ids dropped."""
    functions = raw.get("functions") if isinstance(raw, dict) else None
    if not isinstance(functions, dict):
        return {}
    found: dict[str, list[int]] = {}
    for name, value in functions.items():
        uids = [value] if isinstance(value, int) else value if isinstance(value, list) else []
        valid = [uid for uid in uids if isinstance(uid, int) and first <= uid <= last]
        if valid and len(valid) == len(uids):
            found[str(name)] = valid
    return found


class IdentityBook:
    """function name -> its slot uids, allocated on first use and written to `<state>/identities.json` (0600)."""

    def __init__(self, path: Path, *, first: int = FIRST_UID, last: int = LAST_UID,
                 taken: Callable[[int], bool] = _taken, host: HostUids | None = None) -> None:
        self.path, self.first, self.last, self._taken, self.host = path, first, last, taken, host
        self._lock = threading.Lock()
        self._uids: dict[str, list[int]] = self._load()
        self._confirmed: set[int] = set()  # recorded uids the host registry agreed to in this process
        self._busy: dict[str, set[int]] = {}  # function -> slots a live sandbox uses

    @classmethod
    def of_box(cls, state_dir: Path, host_dir: Path = HOST_DIR) -> "IdentityBook":
        return cls(state_dir / BOOK_FILE, host=HostUids(host_dir))

    def _load(self) -> dict[str, list[int]]:
        try:
            raw: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: allocate afresh (ids only matter while sandboxes run)
        return parse_functions(raw, self.first, self.last)

    def identity(self, function: str, slot: int = 0) -> Identity:
        """The identity of one slot: its own uid, the function's gid (slot 0's uid)."""
        with self._lock:
            uids = self._uids.get(function, [])
            if len(uids) <= slot or not {*uids[:slot + 1]} <= self._confirmed:
                uids = self._claim(function, slot)
        return Identity(user=f"esb-fn-{uids[slot]}", uid=uids[slot], gid=uids[0])

    def take(self, function: str) -> Identity:
        """The identity of the function's lowest free slot, marked busy until `give_back`."""
        with self._lock:
            busy = self._busy.setdefault(function, set())
            slot = next(n for n in range(len(busy) + 1) if n not in busy)
            busy.add(slot)
        try:
            return self.identity(function, slot)
        except BaseException:
            self._release(function, slot)
            raise

    def give_back(self, function: str, identity: Identity) -> None:
        """Free the slot of `identity`; call once no process of its sandbox is left."""
        with self._lock:
            uids = self._uids.get(function, [])
            slot = uids.index(identity.uid) if identity.uid in uids else None
        if slot is not None:
            self._release(function, slot)

    def _release(self, function: str, slot: int) -> None:
        with self._lock:
            self._busy.get(function, set()).discard(slot)

    def recorded(self) -> dict[str, list[int]]:
        with self._lock:
            return {name: list(uids) for name, uids in self._uids.items()}

    def _claim(self, function: str, slot: int) -> list[int]:
        """Confirm the function's recorded uids up to `slot` with the host registry, replacing any another box
        holds now, allocating the missing ones; the book is saved while the registry is locked."""
        session = self.host.locked(self.path.resolve(), book_holds) if self.host is not None else nullcontext(None)
        with session as claims:
            uids = list(self._uids.get(function, []))
            for n in range(slot + 1):
                if n < len(uids) and not (claims is not None and claims.held_by_other(uids[n])):
                    continue
                uids[n:n + 1] = [self._allocate(claims)]
                self._uids[function] = uids  # before the next slot's allocation, which skips what is recorded
            self._uids[function] = uids
            if claims is not None:
                for uid in uids:
                    claims.claim(uid)
            self._save()
            self._confirmed.update(uids)
        return uids

    def _allocate(self, claims: Claims | None) -> int:
        used = {uid for uids in self._uids.values() for uid in uids}
        for uid in range(self.first, self.last + 1):
            if uid in used or self._taken(uid) or (claims is not None and claims.held_by_other(uid)):
                continue
            return uid
        raise EngineError(f"no free sandbox uid left in {self.first}-{self.last} ({len(used)} recorded in "
                          f"{self.path}); remove functions no longer in the template from it")

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"range": [self.first, self.last], "functions": dict(sorted(self._uids.items()))},
                          indent=2, sort_keys=True) + "\n"
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, self.path)
