"""Offline base image and function images, built against a real docker daemon."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from esb.errors import BuildError
from esb.build.images import (BASE_ALIAS, RECIPE_LABEL, BaseImage, build_function_image, ensure_base_image,
                        function_image_tag)
from esb.paths import cache_dir
from esb.build.image_tasks import base_image_task, function_image_task

class CountingClient:
    """Wraps a docker client and counts image builds, so 'skipped' is observable."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self.builds = 0
        outer = self

        class Images:
            def get(self, tag: str) -> Any:
                return client.images.get(tag)

            def remove(self, *args: Any, **kwargs: Any) -> Any:
                return client.images.remove(*args, **kwargs)

            def build(self, **kwargs: Any) -> Any:
                outer.builds += 1
                return client.images.build(**kwargs)

        self.images = Images()
        self.api = client.api


def test_base_image_has_the_lambda_entrypoint_contract(docker_client: docker.DockerClient,
                                                       base_image: BaseImage) -> None:
    image = docker_client.images.get(base_image.tag)
    config = image.attrs["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert config["WorkingDir"] == "/var/task"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert "/opt/python" in env["PYTHONPATH"].split(":")
    assert image.labels[RECIPE_LABEL].startswith(base_image.tag.rsplit("-", 1)[1])
    assert docker_client.images.get(BASE_ALIAS).id == base_image.id


def test_base_image_contains_python311_awslambdaric_and_the_rie(docker_client: docker.DockerClient,
                                                                base_image: BaseImage) -> None:
    out = docker_client.containers.run(
        base_image.tag, entrypoint=["/bin/sh", "-c"],
        command=["python3 -c 'import sys, awslambdaric; print(sys.version_info[:2])' && "
                 "test -x /usr/local/bin/aws-lambda-rie && echo rie-ok"],
        remove=True,
    ).decode()
    assert "(3, 11)" in out
    assert "rie-ok" in out


def test_second_base_build_is_a_no_op(docker_client: docker.DockerClient, base_image: BaseImage,
                                      rie_path: Path) -> None:
    counting = CountingClient(docker_client)
    again = ensure_base_image(counting, cache_dir(), rie_path=rie_path)  # type: ignore[arg-type]
    assert again.built is False
    assert again.id == base_image.id
    assert counting.builds == 0


def test_base_image_task_is_up_to_date_once_built(docker_client: docker.DockerClient, base_image: BaseImage,
                                                  rie_path: Path) -> None:
    task = base_image_task(cache_dir(), client_factory=lambda: docker_client, rie_path=lambda _: rie_path)
    assert task["uptodate"][0]() is True
    assert task["actions"][0]() == {"tag": base_image.tag, "id": base_image.id}


def test_function_image_builds_runs_and_is_skipped_when_tagged(docker_client: docker.DockerClient,
                                                               base_image: BaseImage, make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    tag = function_image_tag("My_Project", "Echo", ctx, docker_client)
    assert tag.startswith("esb/my_project/echo:")
    counting = CountingClient(docker_client)
    first = build_function_image(counting, ctx, tag)  # type: ignore[arg-type]
    second = build_function_image(counting, ctx, tag)  # type: ignore[arg-type]
    assert first == second == docker_client.images.get(tag).id
    assert counting.builds <= 1  # 0 when an earlier session left the same tag (the CI `docker load` case)
    build_function_image(counting, ctx, tag, no_cache=True)  # type: ignore[arg-type]
    assert counting.builds >= 1
    out = docker_client.containers.run(tag, entrypoint=["python3", "-c"],
                                       command=["import app, shared; print(shared.VALUE)"], remove=True)
    assert out.decode().strip() == "from-layer"


def test_function_tag_follows_content(make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    before = function_image_tag("p", "f", ctx)
    (ctx / "src" / "app.py").write_text("def handler(e, c):\n    return 2\n")
    assert function_image_tag("p", "f", ctx) != before


def test_function_image_task_skips_an_existing_tag(docker_client: docker.DockerClient, function_image: str,
                                                   make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    counting = CountingClient(docker_client)
    task = function_image_task("esbtest", "echo", ctx, client_factory=lambda: counting)  # type: ignore[arg-type]
    assert task["uptodate"][0]() is False  # no image.json record yet
    assert task["actions"][0]()["tag"] == function_image
    assert counting.builds == 0  # the tag existed: nothing was built
    assert json.loads((ctx / "image.json").read_text())["tag"] == function_image
    assert task["uptodate"][0]() is True
    (ctx / "src" / "app.py").write_text("def handler(e, c):\n    return 3\n")
    assert task["uptodate"][0]() is False  # changed code, new tag


def test_broken_dockerfile_is_a_build_error(docker_client: docker.DockerClient, base_image: BaseImage,
                                            make_context) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context()
    (ctx / "Dockerfile").write_text(f"FROM {BASE_ALIAS}\nCOPY missing/ /var/task/\n")
    with pytest.raises(BuildError, match="build esb/p/broken"):
        build_function_image(docker_client, ctx, function_image_tag("p", "broken", ctx))


def test_doit_sees_the_base_image_task_up_to_date(docker_client: docker.DockerClient, base_image: BaseImage,
                                                  rie_path: Path, tmp_path: Path) -> None:
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    ran: list[str] = []

    def task_base_image() -> dict[str, Any]:
        """Build the base image."""
        task = base_image_task(cache_dir(), client_factory=lambda: docker_client, rie_path=lambda _: rie_path)
        return {**task, "actions": [lambda: ran.append("built")]}  # doit calls it only when not up to date

    loader = ModuleTaskLoader({"task_base_image": task_base_image,
                               "DOIT_CONFIG": {"dep_file": str(tmp_path / ".doit.db")}})
    assert DoitMain(loader).run(["base_image"]) == 0
    assert ran == []
