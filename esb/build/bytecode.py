"""Bytecode of staged Python code, made by the build (as pip does at install) so no start has to compile it."""

from __future__ import annotations

import importlib.util
import py_compile
from pathlib import Path

# Hash-checked: a source rewritten within the same second (same size and mtime) still invalidates its bytecode.
_MODE = py_compile.PycInvalidationMode.CHECKED_HASH
_CHECKED_HASH_FLAGS = (0b11).to_bytes(4, "little")  # PEP 552: hash-based, checked against the source


def compile_tree(root: Path) -> list[Path]:
    """Write the bytecode of every .py under `root` whose cached one is missing or of another source; the
    sources compiled. Byte-stable: the recorded file name is relative to `root` (the import system puts the
    real path back when it loads the code), so two output trees hold the same bytes."""
    compiled = []
    for source in sorted(root.rglob("*.py")):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if _current(cached, source.read_bytes()):
            continue
        py_compile.compile(str(source), cfile=str(cached), dfile=source.relative_to(root).as_posix(), doraise=True,
                           invalidation_mode=_MODE)
        compiled.append(source)
    return compiled


def _current(cached: Path, source: bytes) -> bool:
    try:
        with open(cached, "rb") as handle:
            header = handle.read(16)
    except OSError:
        return False
    return header == importlib.util.MAGIC_NUMBER + _CHECKED_HASH_FLAGS + importlib.util.source_hash(source)
