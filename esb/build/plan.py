"""What a build would write: rendered outputs in memory, validation up front, and the --dry-run listing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from esb.paths import P
from esb.render import render_compose, render_dockerfile, render_functions, render_routing, render_runtime_dockerfile
from esb.render.compose import gateway_dockerfile, manager_dockerfile
from esb.build.sources import layer_files, package_inputs, requirements_file, source_files
from esb.build.writer import list_files

if TYPE_CHECKING:
    from esb.build.context import BuildContext


def app_outputs(ctx: BuildContext) -> dict[Path, str]:
    """Every whole-app rendered file: path -> text (rendered once per context; a copy each call)."""
    tree = ctx.tree
    if not ctx.rendered:
        ctx.rendered.update({
            tree.routing: render_routing(ctx.app, ctx.project.compat, ctx.project.auth),
            tree.functions_config: render_functions(ctx.app, tree),
            tree.compose: render_compose(ctx.app, ctx.project),
            gateway_dockerfile(tree): render_runtime_dockerfile(ctx.project, "gateway"),
            manager_dockerfile(tree): render_runtime_dockerfile(ctx.project, "manager"),
        })
    return dict(ctx.rendered)


def rendered_outputs(ctx: BuildContext) -> dict[Path, str]:
    outputs = app_outputs(ctx)
    for fn in ctx.app.functions:
        if fn.image is None:  # an image function is built with its own Dockerfile
            outputs[ctx.tree.function_dockerfile(fn.name)] = render_dockerfile(ctx.app, fn, ctx.project)
    return outputs


def validate(ctx: BuildContext) -> None:
    """Render everything once and check every code dir, so errors surface before doit runs."""
    from esb.build.image_functions import lambda_bases

    rendered_outputs(ctx)
    for fn in ctx.app.functions:
        source_files(ctx, fn)
        layer_files(ctx, fn)
        if fn.image is not None:
            lambda_bases(ctx, fn)  # a FROM the box cannot serve offline fails here, as one line


def _differs(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() != data
    except OSError:
        return True


def _mirror_plan(src: Path, files: list[str], dst: Path) -> list[str]:
    lines = [f"write {dst / rel}" for rel in files if _differs(dst / rel, (src / rel).read_bytes())]
    wanted = set(files)
    lines += [f"delete {dst / rel}" for rel in list_files(dst) if rel not in wanted]
    return lines


def dry_run(ctx: BuildContext) -> list[str]:
    """One line per file a build would write or delete (deps installs are named, not expanded)."""
    from esb.build.node_runtime import is_node

    lines = [f"write {p}" for p, text in sorted(rendered_outputs(ctx).items()) if _differs(p, text.encode("utf-8"))]
    for fn in sorted(ctx.app.functions, key=lambda f: f.logical_id):
        staged = _mirror_plan(fn.code_uri, source_files(ctx, fn), ctx.tree.function_src(fn.name))
        for name, (root, rels) in layer_files(ctx, fn).items():
            staged += _mirror_plan(root, rels, ctx.tree.function_layers(fn.name) / name)
        if fn.image is None and not ctx.tree.function_deps(fn.name).is_dir():
            wants = package_inputs(fn)[:1] if is_node(fn.runtime) else [requirements_file(fn)]
            staged += [f"install {path} -> {ctx.tree.function_deps(fn.name)}" for path in wants if path.is_file()]
        if staged or not ctx.tree.function_manifest(fn.name).is_file():
            staged.append(f"write {ctx.tree.function_manifest(fn.name)}")
        lines += staged
    lines += _mirror_plan(P.runtime_pkg, list_files(P.runtime_pkg), ctx.tree.runtime / "esb_runtime")
    if any(is_node(fn.runtime) for fn in ctx.app.functions) and not ctx.tree.node_runtime.is_dir():
        lines.append(f"stage the Node.js runtime environment (aws-lambda-ric + AWS SDK v3) -> {ctx.tree.node_runtime}")
    return lines
