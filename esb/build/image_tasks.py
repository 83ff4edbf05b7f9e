"""doit tasks: the offline docker base image and content-hashed function images."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from esb.errors import BuildError
from esb.build.images import IMAGE_RECORD, base_recipe, build_function_image, ensure_base_image, function_image_tag, image_exists
from esb.paths import cache_dir

if TYPE_CHECKING:
    import docker

ClientFactory = Callable[[], "docker.DockerClient"]


def _docker_client() -> docker.DockerClient:
    import docker

    from esb.build.images import docker_errors

    with docker_errors("connect to docker"):
        return docker.from_env()


def _rie_path(cache: Path) -> Path:
    from esb.build.rie import ensure_rie

    return ensure_rie(cache, explicit=os.environ.get("ESB_RIE_PATH") or None)


def base_image_task(cache: Path, client_factory: ClientFactory = _docker_client,
                    rie_path: Callable[[Path], Path] = _rie_path) -> dict[str, Any]:
    """The task dict; up to date when an image tagged with the current recipe digest exists."""

    def current() -> bool:
        try:
            recipe = base_recipe(cache, rie_path(cache))
            return image_exists(client_factory(), recipe.tag()) is not None
        except BuildError:
            return False  # let the action run and report the error as one line

    def build() -> dict[str, str]:
        image = ensure_base_image(client_factory(), cache, rie_path(cache))
        print(f"base image {image.tag} ({'built' if image.built else 'already present'})")
        return {"tag": image.tag, "id": image.id}

    return {"actions": [build], "uptodate": [current], "verbosity": 2}


def task_base_image() -> dict[str, Any]:
    """Build the offline docker base image (Debian + python3.11 + awslambdaric + RIE)."""
    return base_image_task(cache_dir())


def function_image_task(project: str, function: str, context_dir: Path, *, no_cache: bool = False,
                        client_factory: ClientFactory = _docker_client) -> dict[str, Any]:
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
            return image_exists(client, tag) is not None and _recorded_tag(record) == tag
        except BuildError:
            return False

    def build() -> dict[str, str]:
        client = client_factory()
        tag = function_image_tag(project, function, context_dir, client)
        previous = _recorded_tag(record)
        values = {"tag": tag, "id": build_function_image(client, context_dir, tag, no_cache=no_cache)}
        text = json.dumps(values, sort_keys=True) + "\n"
        if not record.is_file() or record.read_text() != text:
            record.write_text(text)
        if previous and previous != tag:
            _drop_unused(client, previous)
        return values

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


def _recorded_tag(record: Path) -> str | None:
    try:
        return str(json.loads(record.read_text())["tag"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
