"""Template warnings once per change: the same warnings of the same template are not repeated on every command."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence, TypeVar

W = TypeVar("W")  # a warning: anything with a str() (esb.model.Warning_)

MARK_FILE = "warned.sha256"


def fresh(state_dir: Path, template: Path, warnings: Sequence[W], *, always: bool = False) -> list[W]:
    """The warnings to print now: all of them when the template or its warnings changed since they were last
    printed (or `always`, i.e. --verbose), none otherwise. Remembered in the output tree's state dir."""
    if not warnings:
        return []
    digest = hashlib.sha256()
    try:
        digest.update(template.read_bytes())
    except OSError:
        return list(warnings)
    for warning in warnings:
        digest.update(b"\0" + str(warning).encode("utf-8"))
    mark = state_dir / MARK_FILE
    seen = mark.read_text(encoding="utf-8").strip() if mark.is_file() else ""
    if seen == digest.hexdigest() and not always:
        return []
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        mark.write_text(digest.hexdigest() + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only tree: warn every time rather than never
    return list(warnings)
