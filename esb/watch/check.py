"""Handler syntax check before staging: a broken save must never replace the last good build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from esb.build.context import BuildContext
from esb.build.handler_check import SyntaxProblem, compile_problem
from esb.build.writer import list_files

__all__ = ["SyntaxChecker", "SyntaxProblem"]

_Key = tuple[int, int]  # (mtime_ns, size): recompiling an unchanged file is wasted work on every batch


@dataclass
class SyntaxChecker:
    """compile() every .py file of every function's code and layers; results cached by (mtime, size)."""

    cache: dict[Path, tuple[_Key, SyntaxProblem | None]] = field(default_factory=dict)

    def check_file(self, path: Path) -> SyntaxProblem | None:
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_size)
            cached = self.cache.get(path)
            if cached is not None and cached[0] == key:
                return cached[1]
            source = path.read_bytes()
        except OSError:
            return None  # vanished between listing and reading: the build will see the deletion
        problem = compile_problem(path, source)
        self.cache[path] = (key, problem)
        return problem

    def first_problem(self, ctx: BuildContext) -> SyntaxProblem | None:
        """The first syntax error in the app's code dirs and layer dirs, in a stable order; None when all compile."""
        roots = sorted({fn.code_uri for fn in ctx.app.functions} | {layer.content_uri for layer in ctx.app.layers})
        for root in roots:
            for rel in list_files(root, exclude=[ctx.tree.root]):
                if rel.endswith(".py") and not rel.startswith("vendor/"):
                    problem = self.check_file(root / rel)
                    if problem is not None:
                        return problem
        return None
