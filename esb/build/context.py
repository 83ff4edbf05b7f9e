"""The build context the task creators share: project settings + loaded application, set once per run."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from doit.exceptions import InvalidDodoFile

from esb.errors import EsbError
from esb.model import Application
from esb.paths import BuildTree
from esb.project import Project, load_project

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class BuildContext:
    project: Project
    app: Application
    verbose: bool = False
    runner: Runner = field(default=subprocess.run)
    python: str = sys.executable

    @property
    def tree(self) -> BuildTree:
        return self.project.output


_current: dict[str, BuildContext] = {}


def load_application(project: Project) -> Application:
    # Imported here: the SAM loader is a heavy module and only needed once a build is asked for.
    from esb.sam import load_application as load

    return load(project.template, project.params, stack_name=project.name)


def build_context(project: Project, *, verbose: bool = False, runner: Runner | None = None) -> BuildContext:
    """Load the template of `project` and validate everything the task creators will render."""
    app = load_application(project)
    ctx = BuildContext(project=project, app=app, verbose=verbose, runner=runner or subprocess.run)
    from esb.build.plan import validate

    validate(ctx)
    return ctx


def use(ctx: BuildContext | None) -> BuildContext | None:
    """Make `ctx` the context of the task creators; returns the one it replaces (to restore after a nested run)."""
    previous = _current.pop("ctx", None)
    if ctx is not None:
        _current["ctx"] = ctx
    return previous


def current() -> BuildContext:
    """The context set by the CLI, or one discovered from cwd and the environment (plain `doit`)."""
    if "ctx" not in _current:
        try:
            project = load_project(None, cwd=Path.cwd(), env=os.environ)
            ctx = build_context(project, verbose=bool(os.environ.get("ESB_VERBOSE")))
        except EsbError as exc:
            # doit prints InvalidDodoFile as one line without a traceback.
            raise InvalidDodoFile(str(exc)) from exc
        for warning in ctx.app.warnings:
            sys.stderr.write(f"warning: {warning}\n")
        _current["ctx"] = ctx
    return _current["ctx"]


def doit_config(ctx: BuildContext, ran_tasks: list[str] | None = None) -> dict[str, Any]:
    from esb.build.report import reporter_for

    ctx.tree.root.mkdir(parents=True, exist_ok=True)
    return {
        "dep_file": str(ctx.tree.doit_db),
        "backend": "sqlite3",
        "default_tasks": ["build"],
        "reporter": reporter_for(ctx.verbose, ran_tasks=ran_tasks),
        "verbosity": 2 if ctx.verbose else 0,
    }

