"""Per-function doit tasks (one subtask per SAM function, keyed by logical id): deps, stage, dockerfile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from doit.tools import config_changed

from esb.errors import BuildError
from esb.build.handler_check import check_function
from esb.model import Function
from esb.build.node_runtime import is_node
from esb.paths import component
from esb.render import render_dockerfile
from esb.build.context import BuildContext
from esb.build.node_tasks import (
    install_packages, link_modules, module_roots, runtime_marker, with_runtime_key,
)
from esb.build.report import guarded
from esb.build.sources import layer_files, package_inputs, requirements_file, source_files, vendor_dir
from esb.build.writer import list_files, remove_tree, sync_tree, tree_hash, write_if_changed


def deps_marker(ctx: BuildContext, fn: Function) -> Path:
    return ctx.tree.markers / f"deps-{fn.name}.json"


def install_deps(ctx: BuildContext, fn: Function) -> None:
    """pip install --target the function's requirements, or npm ci its package.json (fresh dir each time);
    record the result's hash."""
    deps = ctx.tree.function_deps(fn.name)
    remove_tree(deps)
    deps.mkdir(parents=True, exist_ok=True)
    req = requirements_file(fn)
    if fn.image is not None:
        pass  # the image's own Dockerfile installs what it needs
    elif is_node(fn.runtime):
        install_packages(ctx, fn, deps)
    elif req.is_file():
        cmd = [ctx.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet",
               "--no-compile", "--target", str(deps), "-r", str(req)]
        if vendor_dir(fn).is_dir():
            cmd += ["--no-index", "--find-links", str(vendor_dir(fn))]
        try:
            ctx.runner(cmd, check=True, capture_output=True, text=True, cwd=str(fn.code_uri))
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or [f"exit {exc.returncode}"]
            raise BuildError(f"pip install failed: {detail[0]}", where=str(req), hint="check the requirements") from exc
        except OSError as exc:
            raise BuildError(f"cannot run pip: {exc}", where=str(req)) from exc
    marker = {"deps_hash": tree_hash([("deps", deps)])}
    write_if_changed(deps_marker(ctx, fn), json.dumps(marker, sort_keys=True) + "\n")


def stage(ctx: BuildContext, fn: Function, files: list[str], layers: dict[str, tuple[Path, list[str]]]) -> None:
    """Check the handler statically, mirror code and layers into the output tree, write build.json's code hash."""
    check_function(ctx.app, fn, files)  # a typo or a syntax error fails the build, never the first call
    sync_tree(fn.code_uri, files, ctx.tree.function_src(fn.name))
    layers_dir = ctx.tree.function_layers(fn.name)
    for name, (root, layer_list) in layers.items():
        sync_tree(root, layer_list, layers_dir / component(name))
    if layers_dir.is_dir():
        for stale in sorted(p for p in layers_dir.iterdir() if p.name not in layers):
            remove_tree(stale) if stale.is_dir() else stale.unlink()
    layers_dir.mkdir(parents=True, exist_ok=True)
    code_hash = tree_hash([
        ("src", ctx.tree.function_src(fn.name)),
        ("deps", ctx.tree.function_deps(fn.name)),
        *((f"layers/{name}", layers_dir / name) for name in layers),
    ])
    if is_node(fn.runtime):
        link_modules(ctx.tree.function(fn.name) / "node_modules", module_roots(ctx, fn, list(layers)))
    code_hash = with_runtime_key(ctx, fn, code_hash)
    write_if_changed(ctx.tree.function_manifest(fn.name), json.dumps({"code_hash": code_hash}, sort_keys=True) + "\n")


def deps_tasks(ctx: BuildContext) -> Iterator[dict[str, Any]]:
    for fn in ctx.app.functions:
        inputs = [requirements_file(fn)] if requirements_file(fn).is_file() and fn.image is None else []
        if is_node(fn.runtime):
            inputs = package_inputs(fn)
        elif vendor_dir(fn).is_dir():
            inputs += [vendor_dir(fn) / rel for rel in list_files(vendor_dir(fn))]
        yield {
            "name": fn.logical_id,
            "actions": [(guarded(install_deps), [ctx, fn])],
            "file_dep": [str(p) for p in inputs],
            "targets": [str(deps_marker(ctx, fn))],
            "uptodate": [config_changed({"name": fn.name, "python": list(sys.version_info[:2]), "inputs": sorted(map(str, inputs))})],
            "clean": True,
        }


def stage_tasks(ctx: BuildContext) -> Iterator[dict[str, Any]]:
    for fn in ctx.app.functions:
        files = source_files(ctx, fn)
        layers = layer_files(ctx, fn)
        inputs = [fn.code_uri / rel for rel in files]
        inputs += [root / rel for root, rels in layers.values() for rel in rels]
        node = is_node(fn.runtime)
        yield {
            "name": fn.logical_id,
            "actions": [(guarded(stage), [ctx, fn, files, layers])],
            "file_dep": [str(p) for p in inputs] + [str(deps_marker(ctx, fn))]
            + ([str(runtime_marker(ctx))] if node else []),
            "task_dep": ["node_runtime"] if node else [],
            "targets": [str(ctx.tree.function_manifest(fn.name))],
            "uptodate": [config_changed({
                "name": fn.name,
                "handler": fn.handler,  # checked by stage (esb.handler_check)
                "files": files,
                "layers": {name: [str(root), rels] for name, (root, rels) in sorted(layers.items())},
            })],
        }


def dockerfile_tasks(ctx: BuildContext) -> Iterator[dict[str, Any]]:
    for fn in ctx.app.functions:
        if fn.image is not None:
            continue  # built with its own Dockerfile (esb/build/image_functions.py)
        text = render_dockerfile(ctx.app, fn, ctx.project)
        target = ctx.tree.function_dockerfile(fn.name)
        yield {
            "name": fn.logical_id,
            "actions": [(guarded(write_if_changed), [target, text])],
            "targets": [str(target)],
            "uptodate": [config_changed({"text": text})],
        }


def image_tasks(ctx: BuildContext) -> Iterator[dict[str, Any]]:
    from esb.build.image_functions import image_function_task
    from esb.build.image_tasks import function_image_task

    for fn in ctx.app.functions:
        if fn.image is not None:
            yield image_function_task(ctx, fn)
            continue
        task = function_image_task(ctx.project.name, fn.name, ctx.tree.function(fn.name))
        task["name"] = fn.logical_id
        task["task_dep"] = [*task.get("task_dep", []), f"stage:{fn.logical_id}", f"dockerfile:{fn.logical_id}"]
        if is_node(fn.runtime):
            task["task_dep"].append("node_base_image")
        yield task
