"""Incremental function images on the `esb up --engine docker` path: only what changed is rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from esb.build.runner import run_doit
from esb.paths import P
from esb.project import load_project
from esb.build.context import build_context

pytestmark = pytest.mark.docker

LAYER_IN_GLOBALS = "    Layers:\n      - !Ref CommonLayer\n"


def _only_api_and_worker_use_the_layer(template: Path) -> None:
    """fixtures/full puts its layer in Globals; here AdminFunction goes without, to see it is left alone."""
    text = template.read_text()
    assert LAYER_IN_GLOBALS in text
    text = text.replace(LAYER_IN_GLOBALS, "")
    for code_uri in ("src/api/", "src/worker/"):
        line = f"      CodeUri: {code_uri}\n"
        text = text.replace(line, line + "      Layers:\n        - !Ref CommonLayer\n")
    template.write_text(text)


@pytest.fixture
def full_app(docker_client: Any, tmp_path: Path) -> Iterator[Path]:
    project = tmp_path / f"dimg{uuid.uuid4().hex[:8]}"
    shutil.copytree(P.fixtures / "full", project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    _only_api_and_worker_use_the_layer(project / "template.yaml")
    yield project
    for image in docker_client.images.list(name=f"esb/{project.name}/*"):
        docker_client.images.remove(image.id, force=True)


def build(project: Path) -> tuple[dict[str, str], list[str]]:
    """`esb build` then the doit `image` tasks, as `esb up --engine docker` runs them; returns
    {function: image id} and the names of the tasks that ran."""
    ctx = build_context(load_project(str(project / "template.yaml"), cwd=project, env={}))
    ran: list[str] = []
    cwd = Path.cwd()
    os.chdir(project)
    try:
        assert run_doit(ctx, ["run", "build", "image"], ran_tasks=ran) == 0
    finally:
        os.chdir(cwd)
    ids = {fn.name: json.loads((ctx.tree.function(fn.name) / "image.json").read_text())["id"]
           for fn in ctx.app.functions}
    return ids, ran


def test_only_changed_functions_and_layer_users_are_rebuilt(full_app: Path) -> None:
    first, _ = build(full_app)
    assert set(first) == {"full-dev-api", "full-dev-worker", "AdminFunction"}
    assert len(set(first.values())) == 3

    again, log = build(full_app)
    assert again == first
    assert not [task for task in log if task.startswith("image:")]  # every image task was up to date

    (full_app / "src" / "api" / "app.py").write_text((full_app / "src" / "api" / "app.py").read_text() + "\n# v2\n")
    code_change, log = build(full_app)
    assert code_change["full-dev-api"] != first["full-dev-api"]
    assert {k: v for k, v in code_change.items() if k != "full-dev-api"} == \
        {k: v for k, v in first.items() if k != "full-dev-api"}
    assert "image:ApiFunction" in log and "image:WorkerFunction" not in log

    layer_file = full_app / "layers" / "common" / "python" / "common" / "__init__.py"
    layer_file.write_text(layer_file.read_text() + "\nLAYER_VERSION = 2\n")
    layer_change, _ = build(full_app)
    assert layer_change["full-dev-api"] != code_change["full-dev-api"]
    assert layer_change["full-dev-worker"] != code_change["full-dev-worker"]
    assert layer_change["AdminFunction"] == code_change["AdminFunction"]
