"""doit task and helpers for Node.js functions: the shared runtime environment and `npm ci` of a package.json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from esb.errors import BuildError
from esb.model import Function
from esb.build.node_runtime import NODE_RUNTIMES, ensure_node_runtime, is_node, node_major, runtime_key, stage_node_runtime
from esb.paths import cache_dir
from esb.build.context import BuildContext
from esb.build.report import guarded
from esb.build.sources import PACKAGE_FILES, package_inputs
from esb.build.writer import remove_tree, write_if_changed

LINKED_MARKER = ".esb-linked"  # bootstrap.mjs skips its resolve hook (a worker thread, ~30 ms) when present


def node_functions(ctx: BuildContext) -> list[Function]:
    return [fn for fn in ctx.app.functions if is_node(fn.runtime)]


def runtime_marker(ctx: BuildContext) -> Path:
    return ctx.tree.markers / "node-runtime.json"


def _recorded(ctx: BuildContext) -> dict[str, Any]:
    try:
        return dict(json.loads(runtime_marker(ctx).read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def recorded_key(ctx: BuildContext) -> str:
    """The runtime environment key staged for this tree ("" before the first build)."""
    return str(_recorded(ctx).get("key", ""))


def module_roots(ctx: BuildContext, fn: Function, layer_names: list[str]) -> list[Path]:
    """Lambda's NODE_PATH order over the staged tree: the function's packages, its layers', the runtime's SDK."""
    major = _recorded(ctx).get("node", "")
    roots = [ctx.tree.function_deps(fn.name) / "node_modules"]
    for name in layer_names:
        layer = ctx.tree.function_layers(fn.name) / name / "nodejs"
        roots += [layer / f"node{major}" / "node_modules", layer / "node_modules"]
    return roots + [ctx.tree.node_runtime / "node_modules"]


def _link(link: Path, target: Path) -> None:
    if not link.is_symlink() and not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(target, link.parent))


def link_modules(farm: Path, roots: list[Path]) -> None:
    """ES modules ignore NODE_PATH; Node's own lookup walks up from src/ into this node_modules, whose
    entries link to the first root that has each package (so NODE_PATH precedence holds for `import`)."""
    if farm.is_symlink() or farm.is_file():
        farm.unlink()
    remove_tree(farm)
    farm.mkdir(parents=True)
    for root in roots:
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir()):
            if entry.name.startswith("."):
                continue  # .bin, .package-lock.json
            if entry.name.startswith("@") and entry.is_dir():
                for package in sorted(entry.iterdir()):
                    _link(farm / entry.name / package.name, package)
            else:
                _link(farm / entry.name, entry)
    (farm / LINKED_MARKER).write_text("")


def with_runtime_key(ctx: BuildContext, fn: Function, code_hash: str) -> str:
    """A node function's code hash also names its runtime environment: new pins recycle its sandboxes."""
    if not is_node(fn.runtime):
        return code_hash
    return hashlib.sha256(f"{code_hash}|nodejs:{recorded_key(ctx)}".encode()).hexdigest()


def prepare_node_runtime(ctx: BuildContext) -> None:
    major = node_major(runner=ctx.runner)
    runtime = ensure_node_runtime(cache_dir(), major, runner=ctx.runner)
    if stage_node_runtime(runtime, ctx.tree.node_runtime):
        print(f"Node.js {major} runtime environment {runtime.key} staged (aws-lambda-ric + AWS SDK v3)", file=sys.stderr)
    write_if_changed(runtime_marker(ctx), json.dumps({"key": runtime.key, "node": major}, sort_keys=True) + "\n")


def node_runtime_task(ctx: BuildContext) -> dict[str, Any]:
    if not node_functions(ctx):
        return {"actions": None}

    def staged() -> bool:
        try:
            return recorded_key(ctx) == runtime_key(node_major(runner=ctx.runner)) and ctx.tree.node_runtime.is_dir()
        except BuildError:
            return False  # let the action report it as one line

    return {
        "actions": [(guarded(prepare_node_runtime), [ctx])],
        "targets": [str(runtime_marker(ctx))],
        "uptodate": [staged],
        "verbosity": 2,
    }


def install_packages(ctx: BuildContext, fn: Function, deps: Path) -> None:
    """sam build's way: the function's package.json installed without dev dependencies into deps/node_modules."""
    files = package_inputs(fn)
    if not files:
        return
    for path in files:
        shutil.copyfile(path, deps / path.name)
    locked = (deps / "package-lock.json").is_file()
    argv = ["npm", "ci" if locked else "install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline",
            "--loglevel=error"]
    try:
        ctx.runner(argv, check=True, capture_output=True, text=True, cwd=str(deps))
    except subprocess.CalledProcessError as exc:
        lines = [line for line in (exc.stderr or exc.stdout or "").splitlines() if line.strip()]
        raise BuildError(f"npm {argv[1]} failed: {lines[-1] if lines else f'exit {exc.returncode}'}",
                         where=str(files[0]), hint="check package.json (and package-lock.json)") from exc
    except OSError as exc:
        raise BuildError(f"cannot run npm: {exc}", where=str(files[0]), hint="install Node.js and npm") from exc
    for name in PACKAGE_FILES:  # the code dir keeps its own copies; deps holds node_modules only
        (deps / name).unlink(missing_ok=True)


def node_base_image_task(ctx: BuildContext) -> dict[str, Any]:
    from esb.build.images import image_exists, tag_image
    from esb.build.node_images import BASE_REPO, SUITE_NODE_MAJOR, alias, ensure_node_base_image, node_base_recipe
    from esb.build.image_functions import lambda_bases
    from esb.build.image_tasks import _docker_client, _rie_path

    images_on_node = [fn for fn in ctx.app.functions
                      if fn.image is not None and any(b.startswith(BASE_REPO) for b, _ in lambda_bases(ctx, fn).values())]
    if not node_functions(ctx) and not images_on_node:
        return {"actions": None}
    cache = cache_dir()
    declared = sorted({NODE_RUNTIMES[fn.runtime] for fn in node_functions(ctx) if fn.runtime in NODE_RUNTIMES})

    def exists() -> bool:
        try:
            client = _docker_client()
            recipe = node_base_recipe(cache, node_major(runner=ctx.runner), _rie_path(cache))
            built = image_exists(client, recipe.tag())
            return built is not None and all(image_exists(client, alias(m)) == built for m in declared)
        except BuildError:
            return False  # let the action report it as one line

    def build() -> dict[str, str]:
        client = _docker_client()
        image = ensure_node_base_image(client, cache, node_major(runner=ctx.runner), _rie_path(cache))
        print(f"base image {image.tag} ({'built' if image.built else 'already present'})", file=sys.stderr)
        for major in declared:
            if major != SUITE_NODE_MAJOR:  # the closest Node the box has offline stands in, said once
                tag_image(client, image.id, alias(major))
                print(f"warning: nodejs{major}.x functions run on Node.js {SUITE_NODE_MAJOR} in docker, the only "
                      f"offline base image (AWS_EXECUTION_ENV says nodejs{SUITE_NODE_MAJOR}.x)", file=sys.stderr)
        return {"tag": image.tag, "id": image.id}

    return {"actions": [guarded(build)], "uptodate": [exists], "verbosity": 2}

