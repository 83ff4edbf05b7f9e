"""Container-image functions without a daemon: FROM mapping, functions.yml, the runtime's view, engine seams."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from esb.errors import BuildError
from esb.build.images import BASE_ALIAS, base_python
from esb.model import Application, Function, ImageSource
from esb.build.node_images import alias as node_alias
from esb.paths import BuildTree
from esb.render import render_functions
from esb.build.image_functions import box_base_for
from esb_runtime.config import parse_functions
from esb_runtime.engine import ImageConfig, SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager.docker_support import run_overrides
from esb_runtime.manager.process_engine import ProcessEngine


@pytest.mark.parametrize(("ref", "base"), [
    ("public.ecr.aws/lambda/python:3.11", BASE_ALIAS),
    ("public.ecr.aws/lambda/python:3.11.2024.11.22.15", BASE_ALIAS),
    ("public.ecr.aws/lambda/python:3.13", "esb/base-python:3.13"),
    ("public.ecr.aws/lambda/nodejs:20", node_alias(20)),
    ("debian:bookworm", None),
    ("esb/base-python:3.11", None),
])
def test_lambda_base_images_are_served_by_the_box_bases(ref: str, base: str | None) -> None:
    assert box_base_for(ref, "Dockerfile") == (None if base is None else (base, None))


@pytest.mark.parametrize(("ref", "served_by"), [
    ("public.ecr.aws/lambda/python:3.12", "3.13"),  # a tie: the newer
    ("public.ecr.aws/lambda/python:3.12.2025.01.10.12", "3.13"),
    ("public.ecr.aws/lambda/python:3.14", "3.13"),
    ("public.ecr.aws/lambda/python:3.10", "3.11"),
    ("public.ecr.aws/lambda/python:3.9", "3.11"),
])
def test_every_lambda_python_is_served_by_the_closest_offline_base_with_the_zip_functions_warning(
        ref: str, served_by: str) -> None:
    version = ref.rpartition(":")[2][:4].rstrip(".")
    served = box_base_for(ref, "Dockerfile")
    assert served == (f"esb/base-python:{served_by}", base_python(version)[1])
    assert served[1] is not None and f"python{version} functions run on Python {served_by}" in served[1]


@pytest.mark.parametrize("ref", ["public.ecr.aws/lambda/python:latest", "public.ecr.aws/lambda/python:2.7",
                                 "public.ecr.aws/lambda/nodejs:14"])
def test_a_lambda_base_the_box_cannot_build_is_one_clear_error(ref: str) -> None:
    with pytest.raises(BuildError, match=f"app/Dockerfile: FROM {ref} cannot be pulled"):
        box_base_for(ref, "app/Dockerfile")


def _image_app(tmp_path: Path) -> Application:
    image = ImageSource(context=tmp_path, command=("app.handler",), working_directory="/var/task")
    fn = Function(logical_id="Img", name="img", code_uri=tmp_path, handler="", runtime="", image=image)
    return Application(template_path=tmp_path / "template.yaml", stack_name="demo", region="us-east-1",
                       account_id="000000000000", functions=(fn,))


def test_functions_yml_marks_image_functions_and_the_runtime_reads_them(tmp_path: Path) -> None:
    tree = BuildTree(tmp_path / ".esb")
    text = render_functions(_image_app(tmp_path), tree)
    entry = yaml.safe_load(text)["functions"]["img"]
    assert entry["package_type"] == "Image" and "runtime_dir" not in entry
    assert entry["image_config"] == {"command": ["app.handler"], "entry_point": [], "working_directory": "/var/task"}
    fn = parse_functions(text, tree.root).functions["img"]
    assert fn.package_type == "Image" and fn.handler == ""
    assert fn.image_config == ImageConfig(command=("app.handler",), working_directory="/var/task")


def _spec(tmp_path: Path, **kw: object) -> SandboxSpec:
    base: dict[str, object] = dict(function="img", config_hash="h", handler="app.handler", runtime="python3.11",
                                   code_dir=tmp_path, deps_dir=None, layer_dirs=(), environment={}, memory_mb=128,
                                   timeout_s=3)
    return SandboxSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_container_overrides_follow_image_config(tmp_path: Path) -> None:
    assert run_overrides(_spec(tmp_path)) == {"command": ["app.handler"]}
    image = _spec(tmp_path, handler="", package_type="Image",
                  image_config=ImageConfig(command=("a.b",), entry_point=("/e.sh",), working_directory="/w"))
    assert run_overrides(image) == {"command": ["a.b"], "entrypoint": ["/e.sh"], "working_dir": "/w"}
    assert run_overrides(_spec(tmp_path, handler="", package_type="Image", image_config=ImageConfig())) == {}


def test_the_process_engine_names_the_docker_engine_for_image_functions(tmp_path: Path) -> None:
    engine = ProcessEngine(tmp_path / "rie")
    with pytest.raises(EngineError, match=r"img is a container image function.*esb up --engine docker"):
        engine.start(_spec(tmp_path, handler="", package_type="Image"), lambda line: None)


def test_plan_renders_no_dockerfile_for_an_image_function(tmp_path: Path) -> None:
    from esb.project import Project
    from esb.build.context import BuildContext
    from esb.build.plan import rendered_outputs

    tree = BuildTree(tmp_path / ".esb")
    project = Project(project_dir=tmp_path, template=tmp_path / "template.yaml", output=tree, name="demo")
    outputs = rendered_outputs(BuildContext(project=project, app=_image_app(tmp_path)))
    assert tree.function_dockerfile("img") not in outputs
    assert tree.functions_config in outputs


def test_a_node_container_keeps_the_execution_env_its_base_image_sets(tmp_path: Path) -> None:
    from esb_runtime.manager.docker_support import container_environment

    env = {"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x", "AWS_CA_BUNDLE": "/host/ca.pem"}
    node = container_environment(_spec(tmp_path, runtime="nodejs22.x", environment=env))
    assert "AWS_EXECUTION_ENV" not in node and node["NODE_EXTRA_CA_CERTS"] == node["AWS_CA_BUNDLE"]
    python = container_environment(_spec(tmp_path, environment=env))
    assert python["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs22.x" and "NODE_EXTRA_CA_CERTS" not in python
