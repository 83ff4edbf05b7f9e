"""View-model and renderer of config/functions.yml (what the manager and gateway run)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from esb.model import SOURCE_KINDS, Application, Function
from esb.paths import BuildTree
from esb.render.environment import render
from esb.render.routing import cors_view


def _rel(tree: BuildTree, path: Any) -> str:
    return path.relative_to(tree.root).as_posix()


def config_hash(entry: dict[str, Any]) -> str:
    """sha256 over the entry's canonical JSON, without its own config_hash."""
    body = {k: v for k, v in entry.items() if k != "config_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def layer_names(app: Application, fn: Function) -> list[str]:
    return [app.layer(layer_id).name for layer_id in fn.layers]


def function_view(app: Application, fn: Function, tree: BuildTree) -> dict[str, Any]:
    layers = layer_names(app, fn)
    url = fn.function_url
    entry: dict[str, Any] = {
        "logical_id": fn.logical_id,
        "handler": fn.handler,
        "runtime": fn.runtime,
        "architecture": fn.architecture,
        "timeout": fn.timeout,
        "memory_size": fn.memory_size,
        "reserved_concurrency": fn.reserved_concurrency,
        "environment": dict(sorted(fn.environment)),
        "layers": layers,
        "code_dir": _rel(tree, tree.function_src(fn.name)),
        "deps_dir": _rel(tree, tree.function_deps(fn.name)),
        "layer_dirs": [_rel(tree, tree.function_layers(fn.name) / name) for name in layers],
        "manifest": _rel(tree, tree.function_manifest(fn.name)),
        "schedules": [
            {"name": ev.name, "expression": ev.schedule, "input": ev.input, "enabled": ev.enabled}
            for ev in fn.events
            if ev.kind == "Schedule"
        ],
        "function_url": None if url is None else {"auth_type": url.auth_type, "cors": cors_view(url.cors)},
    }
    if fn.runtime.startswith("nodejs"):
        entry["runtime_dir"] = _rel(tree, tree.node_runtime)
    elif fn.runtime.startswith("python") and fn.image is None:
        entry["runtime_dir"] = _rel(tree, tree.python_runtime(fn.runtime))
    if fn.image is not None:
        entry["package_type"] = "Image"
        entry["image_config"] = {
            "command": list(fn.image.command),
            "entry_point": list(fn.image.entry_point),
            "working_directory": fn.image.working_directory,
        }
    entry["config_hash"] = config_hash(entry)
    return entry


def event_sources_view(app: Application) -> list[dict[str, Any]]:
    """The events the manager delivers (pollers, async deliveries); outside the functions' entries so a
    changed source does not recycle the function's sandboxes."""
    return [
        {"function": fn.name, "name": ev.name, "kind": ev.kind, "source": ev.source, "enabled": ev.enabled,
         "options": ev.option_values, "async": json.loads(fn.async_config) if fn.async_config else {}}
        for fn in sorted(app.functions, key=lambda f: f.name) for ev in fn.events if ev.kind in SOURCE_KINDS
    ]


def functions_view(app: Application, tree: BuildTree) -> dict[str, Any]:
    view: dict[str, Any] = {
        "project": app.stack_name,
        "region": app.region,
        "account_id": app.account_id,
        "functions": {fn.name: function_view(app, fn, tree) for fn in sorted(app.functions, key=lambda f: f.name)},
    }
    sources = event_sources_view(app)
    if sources:
        view["event_sources"] = sources
    return view


def render_functions(app: Application, tree: BuildTree) -> str:
    return render("functions.yml.j2", source=app.template_path.name, document=functions_view(app, tree))
