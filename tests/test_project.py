"""generator.yml parsing and template discovery order."""

from __future__ import annotations

from pathlib import Path

import pytest

from esb.errors import ConfigError
from esb.paths import P
from esb.project import load_project, parse_generator

TEMPLATE = "Resources: {}\n"


def _write(path: Path, text: str = TEMPLATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_argument_beats_env_and_cwd(tmp_path: Path) -> None:
    arg = _write(tmp_path / "a" / "template.yaml")
    env = _write(tmp_path / "b" / "template.yaml")
    _write(tmp_path / "template.yaml")
    project = load_project(str(arg), cwd=tmp_path, env={"ESB_TEMPLATE": str(env)})
    assert (project.template, project.template_source, project.project_dir) == (arg, "argument", arg.parent)


def test_env_then_cwd(tmp_path: Path) -> None:
    env = _write(tmp_path / "b" / "template.yaml")
    local = _write(tmp_path / "template.yaml")
    assert load_project(None, cwd=tmp_path, env={"ESB_TEMPLATE": str(env)}).template == env
    project = load_project(None, cwd=tmp_path, env={})
    assert (project.template, project.output.root) == (local, tmp_path / ".esb")


def test_project_root_found_walking_up(tmp_path: Path) -> None:
    template = _write(tmp_path / "sam" / "app.yaml")
    _write(tmp_path / "generator.yml", "app: {name: shop, tag: v1}\npaths: {sam_template: sam/app.yaml, output_dir: build/}\n"
           "parameters: {Stage: prod, Debug: true}\nports: {gateway: 9443}\nimages: {s3: my/s3:1}\n")
    deep = tmp_path / "x" / "y"
    deep.mkdir(parents=True)
    project = load_project(None, cwd=deep, env={})
    assert project.template == template and project.template_source == "project"
    assert project.output.root == tmp_path / "build"
    assert (project.name, project.tag, project.params) == ("shop", "v1", {"Debug": "true", "Stage": "prod"})
    assert project.ports.gateway == 9443 and project.ports.s3 == 9000 and project.images.s3 == "my/s3:1"


def test_bundled_sample_last(tmp_path: Path) -> None:
    project = load_project(None, cwd=tmp_path, env={})
    assert project.template == P.sample_template and project.project_dir == tmp_path and project.name == "sample"


def test_missing_template_argument_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="template not found"):
        load_project("nope.yaml", cwd=tmp_path, env={})


@pytest.mark.parametrize("text, message", [
    ("app: [1\n", "invalid YAML"),
    ("ports: {gateway: http}\n", "ports.gateway"),
    ("images: {bogus: x}\n", "images.bogus"),
    ("- a\n", "must be a mapping"),
])
def test_generator_errors_name_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_generator(text, "/p/generator.yml")
    assert message in str(err.value) and "/p/generator.yml" in str(err.value)


def test_yaml_error_has_line() -> None:
    with pytest.raises(ConfigError, match=r"generator.yml:2"):
        parse_generator("app: {}\n\tbad: 1\n", "generator.yml")


def test_ports_aws_default_and_override() -> None:
    from esb.project import DEFAULT_AWS_PORT, parse_generator

    assert parse_generator("{}", "g.yml").ports.aws == DEFAULT_AWS_PORT == 4566
    ports = parse_generator("ports:\n  aws: 14566\n  aws_http: 14567\n", "g.yml").ports
    assert (ports.aws, ports.aws_http) == (14566, 14567)
