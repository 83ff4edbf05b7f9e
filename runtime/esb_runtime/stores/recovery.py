"""Rebuild the stores' state: the last snapshot, then the journal segments written after it, in order."""

from __future__ import annotations

import contextlib
import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from esb_runtime.stores import journal, snapshot
from esb_runtime.stores.auth import WsgiApp
from esb_runtime.stores.queued import QueueLedger
from esb_runtime.stores.recorder import Replay

JOURNAL = "journal"
_LOCK = "compact.lock"


def journal_dir(data_dir: Path) -> Path:
    return data_dir / JOURNAL


@contextlib.contextmanager
def exclusive(data_dir: Path) -> Iterator[None]:
    """Held while recovering or compacting: a compactor left over from a killed stores process finishes
    (or dies) before a new one reads the snapshot and the segments it is about to swap and delete."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / _LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Recovered:
    manifest: dict
    base: int  # the last segment the snapshot holds
    segments: list[int]  # the segments replayed on top of it
    replay: Replay

    @property
    def next_segment(self) -> int:
        return max([self.base, *self.segments]) + 1

    @property
    def regions(self) -> set[str]:
        return {entry["region"] for entry in self.manifest.get("tables", [])} | self.replay.regions


def recover(data_dir: Path, restore: Callable[[Path], dict | None], app: WsgiApp, log: Callable[[str], None],
            upto: int | None = None, ledger: QueueLedger | None = None) -> Recovered:
    """Restore the snapshot (`restore`: snapshot.restore with clients of the server, or the same in a child
    process; it returns the manifest), then replay segments after it (up to `upto`, if given) into `app` (moto)
    and `ledger` (moto's queue contents).

    The caller holds `exclusive(data_dir)`. Segments the snapshot covers are skipped even if a crash
    kept them from being deleted, so no write is applied twice.
    """
    manifest = restore(data_dir) or {}
    base = int(manifest.get("journal_upto", 0))
    replay = Replay(app, log, ledger or QueueLedger())
    current = snapshot.current_snapshot(data_dir)
    if current is not None and (current / snapshot.PENDING).is_file():
        replay.apply(journal.read_segment(current / snapshot.PENDING))
    folder = journal_dir(data_dir)
    numbers = [n for n in journal.segments(folder) if n > base and (upto is None or n <= upto)]
    for number in numbers:
        replay.apply(journal.read_segment(journal.segment_path(folder, number)))
    journal.drop_upto(folder, base)  # left behind by a crash between a snapshot swap and their deletion
    return Recovered(manifest, base, numbers, replay)
