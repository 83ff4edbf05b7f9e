"""doit task of container-image functions (PackageType: Image): built with their own Dockerfile, offline;
FROM public.ecr.aws/lambda/<runtime>:<v> is served by the box's own base image of that runtime."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from esb.errors import BuildError
from esb.build.images import (
    BASE_REPO, PYTHON_VERSION, base_python, build_function_image, context_hash, docker_name, from_images,
    image_exists, tag_image,
)
from esb.model import Function
from esb.build.node_images import SUITE_NODE_MAJOR
from esb.build.node_images import alias as node_alias
from esb.paths import cache_dir
from esb.build.report import guarded
from esb_runtime.contract import IMAGE_RECORD, ImageRecord, write_image_record

if TYPE_CHECKING:
    from esb.build.context import BuildContext
    import docker

LAMBDA_IMAGE = re.compile(r"^public\.ecr\.aws/lambda/(?P<runtime>[a-z]+):(?P<version>[^\s@]+)$")
Say = Callable[[str], None]


def box_base_for(ref: str, where: str) -> tuple[str, str | None] | None:
    """The box's offline base image standing in for a FROM of AWS's Lambda images, and a warning when it runs
    another Python than the tag names (the closest Debian has, as for zip functions); None for other FROMs."""
    match = LAMBDA_IMAGE.match(ref)
    if match is None:
        return None
    runtime, version = match.group("runtime"), match.group("version")
    # AWS tags: python:3.12, python:3.12.2024.11.22.15 (dated builds of it), nodejs:20, nodejs:20.2024...
    python = re.match(r"3\.\d+(?=\.|$)", version) if runtime == "python" else None
    if python is not None:
        built_by, note = base_python(python.group(0))
        return f"{BASE_REPO}:{built_by}", note
    if runtime == "nodejs" and version.split(".")[0] == str(SUITE_NODE_MAJOR):
        return node_alias(SUITE_NODE_MAJOR), None
    raise BuildError(f"FROM {ref} cannot be pulled (no registry is reachable) and the box builds only "
                     f"public.ecr.aws/lambda/python:3.N and nodejs:{SUITE_NODE_MAJOR} offline",
                     where=where, hint=f"start the Dockerfile FROM public.ecr.aws/lambda/python:{PYTHON_VERSION}")


def staged_dockerfile(ctx: BuildContext, fn: Function) -> Path:
    assert fn.image is not None
    return ctx.tree.function_src(fn.name) / fn.image.dockerfile


def lambda_bases(ctx: BuildContext, fn: Function) -> dict[str, tuple[str, str | None]]:
    """FROM reference -> the box base serving it and its warning, for the function's Dockerfile (as written in
    the template dir)."""
    assert fn.image is not None
    source = fn.image.context / fn.image.dockerfile
    found = {ref: box_base_for(ref, str(source)) for ref in from_images(source)}
    return {ref: base for ref, base in found.items() if base is not None}


def warn_stand_ins(bases: dict[str, tuple[str, str | None]]) -> None:
    """Said on every build of the function, up to date or not, like the zip functions' stand-in warning."""
    for note in sorted({note for _, note in bases.values() if note}):
        sys.stderr.write(f"warning: {note}\n")


def image_tag(ctx: BuildContext, fn: Function, client: docker.DockerClient) -> str:
    """Content hash of the staged context, its Dockerfile name, build args and the ids of the bases it builds on."""
    assert fn.image is not None
    bases = lambda_bases(ctx, fn)
    served = {ref: base for ref, (base, _) in bases.items()}
    ids = [f"{ref}={image_exists(client, served.get(ref, ref)) or ref}"
           for ref in from_images(staged_dockerfile(ctx, fn))]
    extra = json.dumps({"dockerfile": fn.image.dockerfile, "args": fn.image.build_args, "from": ids}, sort_keys=True)
    digest = context_hash(ctx.tree.function_src(fn.name), extra)
    return f"esb/{docker_name(ctx.app.stack_name)}/{docker_name(fn.name)}:{digest[:16]}"


def serve_bases(client: docker.DockerClient, bases: dict[str, tuple[str, str | None]], ensure: Callable[[str], str],
                say: Say) -> None:
    """Tag each box base with the public name the Dockerfile asks for, so `docker build` finds it locally."""
    for ref, (base, _) in sorted(bases.items()):
        tag_image(client, ensure(base), ref)
        say(f"{ref} is served by the box's offline base image {base}")


def _ensure_base(client: docker.DockerClient, ctx: BuildContext) -> Callable[[str], str]:
    def ensure(base: str) -> str:
        from esb.build.images import ensure_base_image
        from esb.build.node_images import ensure_node_base_image
        from esb.build.node_runtime import node_major
        from esb.build.image_tasks import _rie_path

        cache = cache_dir()
        repo, _, version = base.partition(":")
        if repo == BASE_REPO:
            return ensure_base_image(client, cache, _rie_path(cache), python_version=version).id
        return ensure_node_base_image(client, cache, node_major(runner=ctx.runner), _rie_path(cache)).id

    return ensure


def image_function_task(ctx: BuildContext, fn: Function) -> dict[str, Any]:
    """The image subtask of one image function; writes functions/<fn>/image.json like zip functions do."""
    from esb.build.image_tasks import _docker_client, _drop_unused, _recorded_tag

    assert fn.image is not None
    image = fn.image
    function_dir = ctx.tree.function(fn.name)

    def current() -> bool:
        try:
            client = _docker_client()
            tag = image_tag(ctx, fn, client)
            done = image_exists(client, tag) is not None and _recorded_tag(function_dir) == tag
        except BuildError:
            return False
        if done:
            warn_stand_ins(lambda_bases(ctx, fn))
        return done

    def build() -> dict[str, str]:
        client = _docker_client()
        bases = lambda_bases(ctx, fn)
        serve_bases(client, bases, _ensure_base(client, ctx), print)
        warn_stand_ins(bases)
        tag = image_tag(ctx, fn, client)
        previous = _recorded_tag(function_dir)
        image_id = build_function_image(client, ctx.tree.function_src(fn.name), tag, dockerfile=image.dockerfile,
                                        build_args=dict(image.build_args))
        tag_image(client, image_id, f"{tag.rpartition(':')[0]}:{image.tag}")  # the template's DockerTag names it too
        write_image_record(function_dir, ImageRecord(tag, image_id))
        if previous and previous != tag:
            _drop_unused(client, previous)
        print(f"{fn.name}: image {tag} (Dockerfile {image.dockerfile}, DockerTag {image.tag})", file=sys.stderr)
        return {"tag": tag, "id": image_id}

    repos = {base.partition(":")[0] for base, _ in lambda_bases(ctx, fn).values()}
    deps = (["base_image"] if BASE_REPO in repos else []) + (["node_base_image"] if repos - {BASE_REPO} else [])
    return {"name": fn.logical_id, "actions": [guarded(build)], "uptodate": [current], "targets": [str(function_dir / IMAGE_RECORD)],
            "task_dep": [*deps, f"stage:{fn.logical_id}"], "verbosity": 2}
