"""doit tasks: the offline docker base image and content-hashed function images."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from esb.errors import BuildError
from esb.build.images import (BASE_REPO, PYTHON_VERSION, base_python, base_recipe, build_function_image,
                              ensure_base_image, function_image_tag, image_exists, tag_image)
from esb.build.report import guarded
from esb_runtime.contract import IMAGE_RECORD, ImageRecord, read_image_record, write_image_record
from esb.seams import DockerClientFactory

if TYPE_CHECKING:
    import docker



def _docker_client() -> docker.DockerClient:
    import docker

    from esb.build.images import docker_errors

    with docker_errors("connect to docker"):
        return docker.from_env()


def _rie_path(cache: Path) -> Path:
    from esb.build.rie import ensure_rie

    return ensure_rie(cache, explicit=os.environ.get("ESB_RIE_PATH") or None)


def base_image_task(cache: Path, client_factory: DockerClientFactory = _docker_client,
                    rie_path: Callable[[Path], Path] = _rie_path,
                    versions: Sequence[str] = (PYTHON_VERSION,)) -> dict[str, Any]:
    """The task dict: one base image per Python Debian provides (PYTHON_SUITES), `esb/base-python:<v>` naming it
    for every declared version `v` (the closest one, with a warning, where Debian has no python`v`); up to date
    when those images exist and every name points at its image."""
    plan = {version: base_python(version) for version in sorted({PYTHON_VERSION, *versions})}

    def warn() -> None:
        for note in sorted({note for _, note in plan.values() if note}):
            sys.stderr.write(f"warning: {note}\n")

    def current() -> bool:
        try:
            client = client_factory()
            for version, (built_by, _) in plan.items():
                built = image_exists(client, base_recipe(cache, rie_path(cache), python_version=built_by).tag())
                if built is None or image_exists(client, f"{BASE_REPO}:{version}") != built:
                    return False
            warn()  # said on every docker build that uses a stand-in, not only the one that tagged it
            return True
        except BuildError:
            return False  # let the action run and report the error as one line

    def build() -> dict[str, str]:
        client, images = client_factory(), {}
        for version, (built_by, note) in plan.items():
            if built_by not in images:
                images[built_by] = ensure_base_image(client, cache, rie_path(cache), python_version=built_by)
                image = images[built_by]
                print(f"base image {image.tag} ({'built' if image.built else 'already present'})", file=sys.stderr)
            if note:
                tag_image(client, images[built_by].id, f"{BASE_REPO}:{version}")
        warn()
        first = images[plan[PYTHON_VERSION][0]]
        return {"tag": first.tag, "id": first.id}

    return {"actions": [guarded(build)], "uptodate": [current], "verbosity": 2}


def function_image_task(project: str, function: str, context_dir: Path, *, no_cache: bool = False,
                        client_factory: DockerClientFactory = _docker_client) -> dict[str, Any]:
    """One function's image subtask (yield it from a creator); the tag is the content hash of the
    staged context, so an unchanged function builds nothing. Writes <context>/image.json, which
    the docker engine reads when a sandbox spec carries no image."""
    record = context_dir / IMAGE_RECORD

    def current() -> bool:
        if no_cache:
            return False
        try:
            client = client_factory()
            tag = function_image_tag(project, function, context_dir, client)
            return image_exists(client, tag) is not None and _recorded_tag(context_dir) == tag
        except BuildError:
            return False

    def build() -> dict[str, str]:
        client = client_factory()
        tag = function_image_tag(project, function, context_dir, client)
        previous = _recorded_tag(context_dir)
        built = ImageRecord(tag, build_function_image(client, context_dir, tag, no_cache=no_cache))
        write_image_record(context_dir, built)
        if previous and previous != tag:
            _drop_unused(client, previous)
        return built.to_dict()

    # The record is outside the hash (the hash would chase its own output): excluded by name.
    return {"name": function, "actions": [build], "uptodate": [current], "targets": [str(record)],
            "task_dep": ["base_image"], "verbosity": 1}


def _drop_unused(client: Any, tag: str) -> None:
    """Remove the image a rebuild replaced, so a long `esb watch` does not fill the disk; docker refuses while
    a container still uses it (the manager retires those), and that is fine: the next rebuild tries again."""
    import docker

    try:
        client.images.remove(tag)
    except docker.errors.APIError:
        pass


def _recorded_tag(function_dir: Path) -> str | None:
    record = read_image_record(function_dir)
    return record.tag if record else None
