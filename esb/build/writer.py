"""Write-only-when-changed helpers: files, mirrored trees and content hashes of trees."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterable

SKIP_DIRS = frozenset({"__pycache__", ".git", ".esb", ".pytest_cache", ".mypy_cache"})
SKIP_SUFFIXES = (".pyc", ".pyo")


def write_if_changed(path: Path, data: str | bytes) -> bool:
    """Write `data` to `path` only when its bytes differ; True when written."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.read_bytes() == raw:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return True


def list_files(root: Path, exclude: Iterable[Path] = ()) -> list[str]:
    """Sorted POSIX relative paths of the regular files under `root`, skipping caches and VCS dirs."""
    excluded = {p.resolve() for p in exclude}
    found: list[str] = []
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and (here / d).resolve() not in excluded]
        for name in filenames:
            if name.endswith(SKIP_SUFFIXES):
                continue
            path = here / name
            if path.is_file():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def sync_tree(src: Path, files: Iterable[str], dst: Path) -> int:
    """Mirror `files` (relative to `src`) into `dst`, deleting what is no longer there; returns files changed."""
    wanted = set(files)
    changed = 0
    for rel in sorted(wanted):
        source, target = src / rel, dst / rel
        if write_if_changed(target, source.read_bytes()):
            changed += 1
        mode = staged_mode(source.stat().st_mode)
        if target.stat().st_mode & 0o777 != mode:
            target.chmod(mode)
    for rel in list_files(dst):
        if rel not in wanted:
            (dst / rel).unlink()
            changed += 1
    _prune_empty_dirs(dst)
    dst.mkdir(parents=True, exist_ok=True)
    return changed


def staged_mode(source_mode: int) -> int:
    """Staged code is readable by everyone (as Lambda requires of a package): sandboxes may run as another user."""
    mode = (source_mode & 0o777) | 0o444
    return mode | 0o111 if mode & 0o100 else mode


def _prune_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        if Path(dirpath) != root and not os.listdir(dirpath):
            os.rmdir(dirpath)


def remove_tree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)


def tree_hash(parts: Iterable[tuple[str, Path]]) -> str:
    """sha256 over (prefix/relative path, bytes) of every file of each (prefix, root), in sorted path order."""
    entries: list[tuple[str, Path]] = []
    for prefix, root in parts:
        entries.extend((f"{prefix}/{rel}", root / rel) for rel in list_files(root))
    digest = hashlib.sha256()
    for name, path in sorted(entries):
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode("utf-8"))
        digest.update(data)
    return digest.hexdigest()
