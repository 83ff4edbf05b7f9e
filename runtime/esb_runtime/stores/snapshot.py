"""Durable store data: atomic snapshot directories under data/, swapped in by one symlink rename."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from esb_runtime.stores import buckets, journal, tables

CURRENT = "current"  # symlink to the last complete snapshot directory
FORMAT = 1
PENDING = "pending.log"  # journal records a snapshot cannot hold as data (open multipart uploads)

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


def current_snapshot(data_dir: Path) -> Path | None:
    link = data_dir / CURRENT
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if (target / "manifest.json").is_file() else None


def delete_data(data_dir: Path) -> None:
    """Remove every snapshot (esb down --volumes / esb reset). The stores process must be stopped."""
    if data_dir.is_symlink() or data_dir.is_file():
        data_dir.unlink()
    elif data_dir.exists():
        shutil.rmtree(data_dir)


def _remove_stale(data_dir: Path, keep: Path | None) -> None:
    """Drop half-written or superseded snapshot directories (a crash mid-write leaves them)."""
    for child in data_dir.glob("snap-*"):
        if keep is None or child.resolve() != keep:
            shutil.rmtree(child, ignore_errors=True)
    for child in data_dir.glob(f"{CURRENT}.tmp-*"):
        child.unlink(missing_ok=True)


def take(data_dir: Path, clients: ClientFactory, regions: Iterable[str], clock: Callable[[], float] = time.time,
         journal_upto: int = 0, pending: list[bytes] = ()) -> Path:
    """Dump every table and bucket into a new directory, then point `current` at it atomically.

    `journal_upto`: the last journal segment whose writes the dump holds; replay starts after it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    folder = data_dir / f"snap-{time.time_ns()}-{os.getpid()}"
    (folder / "tables").mkdir(parents=True)
    (folder / "buckets").mkdir()
    started = clock()
    table_entries = []
    for region in sorted(set(regions)):
        table_entries += tables.dump_region(clients("dynamodb", region), region, folder / "tables")
    previous = current_snapshot(data_dir)
    previous_entries = json.loads((previous / "manifest.json").read_text())["buckets"] if previous else []
    bucket_entries = buckets.dump(clients("s3", "us-east-1"), folder / "buckets",
                                  previous / "buckets" if previous else None, previous_entries)
    journal.write_records(folder / PENDING, list(pending))
    journal.fsync_tree(folder)
    manifest = {
        "format": FORMAT,
        "journal_upto": journal_upto,
        "taken_at": started,
        "duration_s": round(clock() - started, 3),
        "tables": table_entries,
        "buckets": bucket_entries,
    }
    manifest_path = folder / "manifest.json"
    with open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp_link = data_dir / f"{CURRENT}.tmp-{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(folder.name)
    os.replace(tmp_link, data_dir / CURRENT)
    journal.fsync_dir(data_dir)
    _remove_stale(data_dir, folder.resolve())
    return folder


def restore(data_dir: Path, clients: ClientFactory) -> dict | None:
    """Recreate the last complete snapshot into an empty server; returns its manifest (None: nothing)."""
    snapshot = current_snapshot(data_dir)
    if data_dir.exists():
        _remove_stale(data_dir, snapshot)
    if snapshot is None:
        return None
    manifest = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["tables"]:
        tables.restore_table(clients("dynamodb", entry["region"]), entry, snapshot / "tables")
    for entry in manifest["buckets"]:
        buckets.restore(clients("s3", entry.get("location") or "us-east-1"), entry, snapshot / "buckets")
    return manifest
