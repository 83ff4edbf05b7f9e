"""esb.build.images.missing_bases: a FROM image that is not local fails the build instead of a registry pull."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest

from esb.build.images import build_function_image, missing_bases
from esb.errors import BuildError


class LocalImages:
    """The `images` collection of a docker client that knows only `present` and never pulls."""

    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.built: list[str] = []

    def get(self, ref: str) -> SimpleNamespace:
        if ref not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return SimpleNamespace(id=f"sha256:{ref}")

    def build(self, **kwargs: object) -> tuple[SimpleNamespace, list]:
        self.built.append(str(kwargs["tag"]))
        return SimpleNamespace(id="sha256:new"), []


def test_stage_names_scratch_and_build_args_are_not_images(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("ARG BASE=x\nFROM esb/base-python:3.11 AS build\nRUN true\nFROM build\nFROM scratch\n"
                          "FROM ${BASE}\nFROM esb/base-python:3.12\n")
    client = SimpleNamespace(images=LocalImages({"esb/base-python:3.11"}))
    assert missing_bases(client, dockerfile) == ["esb/base-python:3.12"]  # type: ignore[arg-type]


def test_a_missing_base_fails_before_docker_build_is_asked(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM esb/base-python:3.12\nCOPY . /var/task\n")
    images = LocalImages(set())
    with pytest.raises(BuildError, match=r"base image esb/base-python:3\.12 is not on this machine"):
        build_function_image(SimpleNamespace(images=images), tmp_path, "esb/p/f:abc")  # type: ignore[arg-type]
    assert images.built == []
    images.present.add("esb/base-python:3.12")
    assert build_function_image(SimpleNamespace(images=images), tmp_path, "esb/p/f:abc") == "sha256:new"  # type: ignore[arg-type]
