"""Static checks of a function's code before it is staged: the handler exists and the code compiles (no import)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from esb.errors import BuildError
from esb.model import Application, Function
from esb.build.node_runtime import is_node

_NODE_SUFFIXES = (".js", ".mjs", ".cjs")


@dataclass(frozen=True)
class SyntaxProblem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


def compile_problem(path: Path, source: bytes | None = None) -> SyntaxProblem | None:
    """Why `path` does not compile (file:line), or None; nothing is imported or run."""
    try:
        source = path.read_bytes() if source is None else source
    except OSError:
        return None  # vanished between listing and reading: staging will see the deletion
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError are SyntaxErrors too
        return SyntaxProblem(path, exc.lineno, f"{type(exc).__name__}: {exc.msg}")
    except ValueError as exc:  # e.g. null bytes in the source
        return SyntaxProblem(path, None, f"cannot compile: {exc}")
    return None


def python_roots(app: Application, fn: Function) -> list[Path]:
    """Where the Lambda Python runtime finds the handler's module: the code, then each layer's python/."""
    roots = [fn.code_uri]
    by_id = {layer.logical_id: layer for layer in app.layers}
    for layer_id in fn.layers:
        layer = by_id.get(layer_id)
        if layer is not None:
            roots += [layer.content_uri / "python", layer.content_uri]
    return roots


def _module_file(roots: Iterable[Path], module: str) -> Path | None:
    rel = Path(*module.split("."))
    for root in roots:
        for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _defined_names(tree: ast.Module) -> tuple[set[str], bool]:
    """Top-level names a module binds, and whether it may bind more than we can see (star import, __getattr__)."""
    names: set[str] = set()
    open_ended = False
    nodes: list[ast.stmt] = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    open_ended = True
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            # Conditional definitions (try/except ImportError, if TYPE_CHECKING) count: the check is a best effort.
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field_name, []):
                    nodes.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
    if "__getattr__" in names:
        open_ended = True
    return names, open_ended


def _syntax_error(problem: SyntaxProblem) -> BuildError:
    where = f"{problem.path}:{problem.line}" if problem.line else str(problem.path)
    return BuildError(problem.message, where=where, hint="fix the syntax error")


def check_python(roots: list[Path], handler: str) -> None:
    module, _, attribute = handler.rpartition(".")
    if not module or not attribute:
        raise BuildError(f"handler {handler!r} is not of the form module.function", where=str(roots[0]),
                         hint="e.g. Handler: app.lambda_handler")
    path = _module_file(roots, module)
    if path is None:
        expected = roots[0] / Path(*module.split(".")).with_suffix(".py")
        raise BuildError(f"handler {handler!r}: module file {expected} does not exist",
                         where=str(expected), hint="fix Handler in the template or rename the file")
    problem = compile_problem(path)
    if problem is not None:
        raise _syntax_error(problem)
    names, open_ended = _defined_names(ast.parse(path.read_bytes(), str(path)))
    if attribute not in names and not open_ended:
        raise BuildError(f"handler {handler!r}: {path.name} defines no {attribute!r}", where=str(path),
                         hint=f"define `def {attribute}(event, context)` there or fix Handler in the template")


def check_node(code_uri: Path, handler: str) -> None:
    module, _, _ = handler.rpartition(".")
    if not any((code_uri / f"{module}{suffix}").is_file() for suffix in _NODE_SUFFIXES):
        raise BuildError(f"handler {handler!r}: no {module}.js, .mjs or .cjs in {code_uri}", where=str(code_uri),
                         hint="fix Handler in the template or rename the file")


def check_function(app: Application, fn: Function, files: Iterable[str]) -> None:
    """Raise BuildError (file:line) for a missing handler or a Python file of the function that does not compile."""
    if fn.image is not None:
        return  # the image's own CMD names its handler
    if is_node(fn.runtime):
        check_node(fn.code_uri, fn.handler)
        return
    for rel in files:
        if rel.endswith(".py") and not rel.startswith("vendor/"):
            problem = compile_problem(fn.code_uri / rel)
            if problem is not None:
                raise _syntax_error(problem)
    check_python(python_roots(app, fn), fn.handler)
