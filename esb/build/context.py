"""The build context the task creators share: project settings + the loaded application, built once per run."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doit.exceptions import InvalidDodoFile

from esb.errors import EsbError
from esb.model import Application
from esb.paths import BuildTree
from esb.project import Project, load_project
from esb.seams import ProcessRunner



@dataclass(frozen=True)
class BuildContext:
    project: Project
    app: Application
    verbose: bool = False
    runner: ProcessRunner = field(default=subprocess.run)
    python: str = sys.executable
    # The whole-app files as rendered once for this context (esb.build.plan.app_outputs): validation and the
    # task creators both need them, and `esb up` pays every rendering before its first part starts.
    rendered: dict[Path, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def tree(self) -> BuildTree:
        return self.project.output


def load_application(project: Project) -> Application:
    # Imported here: the SAM loader is a heavy module and only needed once a build is asked for.
    from esb.overrides import apply_env_vars
    from esb.sam import load_application as load

    app = load(project.template, project.params, stack_name=project.name,
               from_command_line={name for name, _ in project.overrides.parameters})
    return apply_env_vars(app, project.overrides.env_vars)


def build_context(project: Project, *, verbose: bool = False, runner: ProcessRunner | None = None) -> BuildContext:
    """Load the template of `project` and validate everything the task creators will render."""
    app = load_application(project)
    ctx = BuildContext(project=project, app=app, verbose=verbose, runner=runner or subprocess.run)
    from esb.build.plan import validate

    validate(ctx)
    return ctx


def discover_context() -> BuildContext:
    """The context of a plain `doit` run in a project: generator.yml and the template found from cwd and the
    environment, as the CLI would find them; errors become doit's one-line InvalidDodoFile."""
    try:
        project = load_project(None, cwd=Path.cwd(), env=os.environ)
        ctx = build_context(project, verbose=bool(os.environ.get("ESB_VERBOSE")))
    except EsbError as exc:
        raise InvalidDodoFile(str(exc)) from exc
    for warning in ctx.app.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    return ctx


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

