"""Fallback log sink: JSON lines under logs/, used only when esb_runtime.logs.stores is absent."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


class JsonLinesSink:
    def __init__(self, directory: Path, name: str = "functions.jsonl") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / name
        self._lock = threading.Lock()

    def write(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(record, sort_keys=True, default=str) + "\n" for record in records)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)

    def close(self) -> None:
        pass
