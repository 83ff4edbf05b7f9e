"""View-model and renderer of functions/<Name>/Dockerfile (one Lambda function image)."""

from __future__ import annotations

import re
from typing import Any

from esb.errors import BuildError
from esb.model import Application, Function
from esb.project import Project
from esb.render.environment import render
from esb.render.functions import layer_names
from esb_runtime.contract import rie_identity


def runtime_version(fn: Function) -> str:
    """python3.11 -> 3.11, nodejs20.x -> 20: the `{version}` of the runtime's base image."""
    if fn.runtime.startswith("python3"):
        return fn.runtime.removeprefix("python")
    match = re.fullmatch(r"nodejs(\d+)\.x", fn.runtime)
    if match is None:
        raise BuildError(f"runtime {fn.runtime} is not supported", where=f"{fn.logical_id}.Runtime",
                         hint="use a python3.x or nodejs18.x/20.x/22.x runtime")
    return match.group(1)


def base_image(fn: Function, settings: Project) -> str:
    pattern = settings.images.base_nodejs if fn.runtime.startswith("nodejs") else settings.images.base
    return pattern.replace("{version}", runtime_version(fn))


def dockerfile_view(app: Application, fn: Function, settings: Project) -> dict[str, Any]:
    return {
        "base_image": base_image(fn, settings),
        "layers": layer_names(app, fn),
        "labels": {"esb.project": app.stack_name, "esb.function": fn.name, "esb.architecture": fn.architecture},
        # What the RIE reads to report the function's name, timeout and memory like Lambda does.
        "environment": rie_identity(fn.name, fn.timeout, fn.memory_size),
        "cmd": [fn.handler],
    }


def render_dockerfile(app: Application, fn: Function, settings: Project) -> str:
    return render("function.Dockerfile.j2", **dockerfile_view(app, fn, settings))
