"""X-Ray style trace ids: accepted from the client when well formed, generated otherwise."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Callable

_ROOT = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_PARENT = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class TraceId:
    root: str
    parent: str | None = None
    sampled: str = "1"

    @property
    def header(self) -> str:
        """The full header value passed to the manager and echoed to the client."""
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        parts.append(f"Sampled={self.sampled}")
        return ";".join(parts)


def generate(clock: Callable[[], float] = time.time) -> TraceId:
    return TraceId(root=f"1-{int(clock()):08x}-{os.urandom(12).hex()}")


def parse(value: str | None) -> TraceId | None:
    """A TraceId from an X-Amzn-Trace-Id header, or None when it has no valid Root."""
    if not value:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, item = part.strip().partition("=")
        if sep:
            fields[key] = item
    root = fields.get("Root", "")
    if not _ROOT.match(root):
        return None
    parent = fields.get("Parent")
    sampled = fields.get("Sampled", "1")
    return TraceId(
        root=root,
        parent=parent if parent and _PARENT.match(parent) else None,
        sampled=sampled if sampled in ("0", "1") else "1",
    )


def accept_or_generate(value: str | None, clock: Callable[[], float] = time.time) -> TraceId:
    return parse(value) or generate(clock)
