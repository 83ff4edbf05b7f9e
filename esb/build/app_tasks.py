"""Whole-app doit tasks: routing.yml + functions.yml, the compose stack, and the runtime copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from doit.tools import config_changed

from esb.paths import P
from esb.build.bytecode import compile_tree
from esb.build.context import BuildContext
from esb.build.report import guarded
from esb.build.writer import list_files, sync_tree, write_if_changed


def write_all(outputs: dict[Path, str]) -> None:
    for path, text in sorted(outputs.items()):
        write_if_changed(path, text)


def _render_task(outputs: dict[Path, str]) -> dict[str, Any]:
    return {
        "actions": [(guarded(write_all), [outputs])],
        "targets": [str(p) for p in sorted(outputs)],
        "uptodate": [config_changed({str(p): text for p, text in sorted(outputs.items())})],
    }


def config_task(ctx: BuildContext, outputs: dict[Path, str]) -> dict[str, Any]:
    """`outputs`: plan.app_outputs(ctx), rendered once for this task and the compose task."""
    return _render_task({p: t for p, t in outputs.items() if p.parent == ctx.tree.config})


def compose_task(ctx: BuildContext, outputs: dict[Path, str]) -> dict[str, Any]:
    return _render_task({p: t for p, t in outputs.items() if p.parent == ctx.tree.root})


def runtime_files() -> list[str]:
    return list_files(P.runtime_pkg)


def copy_runtime(ctx: BuildContext, files: list[str]) -> None:
    target = ctx.tree.runtime / "esb_runtime"
    sync_tree(P.runtime_pkg, files, target)
    # Else the first start after a build compiled the runtime in every part (0.2 s of CPU, issue 14: start in a
    # second), and every sandbox (PYTHONDONTWRITEBYTECODE) its share on each cold start.
    compile_tree(target)


def runtime_task(ctx: BuildContext) -> dict[str, Any]:
    files = runtime_files()
    return {
        "actions": [(guarded(copy_runtime), [ctx, files])],
        "file_dep": [str(P.runtime_pkg / rel) for rel in files],
        "targets": [str(ctx.tree.runtime / "esb_runtime" / "__init__.py")],
        "uptodate": [config_changed({"files": files})],
    }


def build_task() -> dict[str, Any]:
    return {"actions": None, "task_dep": ["config", "compose", "runtime", "node_runtime", "python_runtime", "stage",
                                        "dockerfile"]}
