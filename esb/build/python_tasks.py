"""doit task: the Lambda-shaped Python environment of each declared python runtime, staged for the process engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from esb.errors import BuildError
from esb.build.images import run_command
from esb.paths import cache_dir
from esb.build.python_runtime import (Interpreter, choose, environment_key, ensure_python_runtime, find_interpreters,
                                is_python, stage_python_runtime)
from esb.build.context import BuildContext
from esb.build.report import guarded
from esb.build.writer import write_if_changed


def python_runtimes(ctx: BuildContext) -> list[str]:
    """The python runtimes Zip functions declare (image functions bring their own)."""
    return sorted({fn.runtime for fn in ctx.app.functions if fn.image is None and is_python(fn.runtime)})


def runtime_marker(ctx: BuildContext) -> Path:
    return ctx.tree.markers / "python-runtime.json"


def _choices(ctx: BuildContext) -> dict[str, tuple[Interpreter, str | None]]:
    hosts = ctx.project.python
    available = find_interpreters(dict(hosts.interpreters))
    return {runtime: choose(runtime, available, strict=hosts.strict) for runtime in python_runtimes(ctx)}


def _wanted(choices: dict[str, tuple[Interpreter, str | None]]) -> str:
    record = {runtime: {"python": interp.path, "key": environment_key(interp.version)}
              for runtime, (interp, _) in choices.items()}
    return json.dumps(record, sort_keys=True) + "\n"


def prepare_python_runtimes(ctx: BuildContext) -> None:
    choices = _choices(ctx)
    for runtime, (interp, note) in choices.items():
        if note:
            sys.stderr.write(f"warning: {note}\n")  # when (re)staged; `esb status` says it while the box runs
        env = ensure_python_runtime(cache_dir(), interp, run_command)
        if stage_python_runtime(env, ctx.tree.python_runtime(runtime), interp, runtime, note) and ctx.verbose:
            sys.stderr.write(f"{runtime} runtime environment {env.key} staged (Python {interp.version})\n")
    write_if_changed(runtime_marker(ctx), _wanted(choices))


def python_runtime_task(ctx: BuildContext) -> dict[str, Any]:
    """The task dict: up to date while every declared runtime's environment is staged for the same choice."""
    if not python_runtimes(ctx):
        return {"actions": None}

    def staged() -> bool:
        try:
            wanted = _wanted(_choices(ctx))
        except BuildError:
            return False  # let the action report it as one line
        marker = runtime_marker(ctx)
        return (marker.is_file() and marker.read_text() == wanted
                and all(ctx.tree.python_runtime(r).is_dir() for r in python_runtimes(ctx)))

    return {
        "actions": [(guarded(prepare_python_runtimes), [ctx])],
        "targets": [str(runtime_marker(ctx))],
        "uptodate": [staged],
        "verbosity": 2,
    }



def declared_versions(ctx: BuildContext) -> list[str]:
    """The "3.N" of every python runtime Zip functions declare (the docker base images to name)."""
    return [runtime.removeprefix("python") for runtime in python_runtimes(ctx)]
