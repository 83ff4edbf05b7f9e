"""esb.build.bytecode: the staged runtime's bytecode, made by the build, current and byte-stable."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from esb.build.bytecode import compile_tree


def _tree(root: Path) -> Path:
    (root / "bytecode_probe").mkdir(parents=True)
    (root / "bytecode_probe" / "__init__.py").write_text("")
    (root / "bytecode_probe" / "mod.py").write_text("def where():\n    return where.__code__.co_filename\n\nVALUE = 1\n")
    return root


def _cached(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def test_every_module_is_compiled_once_and_only_again_when_its_source_changes(tmp_path: Path) -> None:
    root = _tree(tmp_path / "rt")
    mod = root / "bytecode_probe" / "mod.py"
    assert compile_tree(root) == [root / "bytecode_probe" / "__init__.py", mod]
    assert _cached(mod).is_file()
    assert compile_tree(root) == []  # current: nothing rewritten (a no-change build writes nothing)
    stat = mod.stat()
    mod.write_text(mod.read_text().replace("VALUE = 1", "VALUE = 2"))  # same size ...
    os.utime(mod, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and mtime: only the hash tells
    assert compile_tree(root) == [mod]


def test_the_bytecode_is_byte_stable_and_tracebacks_name_the_real_file(tmp_path: Path) -> None:
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    compile_tree(one)
    compile_tree(two)
    first, second = (_cached(root / "bytecode_probe" / "mod.py").read_bytes() for root in (one, two))
    assert first == second
    sys.path.insert(0, str(one))
    try:
        import bytecode_probe.mod  # type: ignore[import-not-found]

        assert bytecode_probe.mod.__cached__ == str(_cached(one / "bytecode_probe" / "mod.py"))
        assert bytecode_probe.mod.where() == str(one / "bytecode_probe" / "mod.py")
    finally:
        sys.path.remove(str(one))
        for name in ("bytecode_probe.mod", "bytecode_probe"):
            sys.modules.pop(name, None)
