"""Render functions over hand-built models: routing, functions.yml, Dockerfile, compose."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from esb.errors import BuildError
from esb.model import Api, Application, Event, Function, Layer
from esb.paths import BuildTree
from esb.project import Images, Ports, Project
from esb.render import render_compose, render_dockerfile, render_functions, render_routing


def _fn(logical_id: str, name: str, *events: Event, **kw: object) -> Function:
    return Function(logical_id=logical_id, name=name, code_uri=Path("/src") / name, handler="app.handler",
                    runtime="python3.11", events=events, **kw)  # type: ignore[arg-type]


def _app(*functions: Function, layers: tuple[Layer, ...] = ()) -> Application:
    return Application(template_path=Path("/p/template.yaml"), stack_name="demo", region="us-east-1",
                       account_id="000000000000", functions=functions, layers=layers,
                       apis=(Api("ServerlessRestApi", "Api", "Prod"),))


def _project(tmp_path: Path, **kw: object) -> Project:
    return Project(project_dir=tmp_path, template=tmp_path / "template.yaml", output=BuildTree(tmp_path / ".esb"),
                   name="demo", **kw)  # type: ignore[arg-type]


GET_A = Event("A", "Api", path="/a", method="GET", api_id="ServerlessRestApi")


def test_routing_sorted_and_only_guarded_routes_name_an_authorizer() -> None:
    b = Event("B", "HttpApi", path="/a", method="POST", authorizer="Jwt", api_key=True, scopes=("read",))
    doc = yaml.safe_load(render_routing(_app(_fn("Two", "two", b), _fn("One", "one", GET_A))))
    assert [(r["method"], r["function"], r.get("authorizer")) for r in doc["routes"]] == [
        ("GET", "one", None), ("POST", "two", "Jwt")]
    assert "api_key" not in doc["routes"][0] and doc["routes"][1]["api_key"] is True
    assert doc["routes"][1]["scopes"] == ["read"]
    # The implicit HttpApi the model did not list still gets an entry.
    assert doc["apis"]["ServerlessHttpApi"] == {"kind": "HttpApi", "stage": "$default", "cors": None, "variables": {}}


def test_duplicate_route_names_both_functions() -> None:
    with pytest.raises(BuildError) as err:
        render_routing(_app(_fn("One", "one", GET_A), _fn("Two", "two", replace(GET_A, name="B"))))
    assert "One" in str(err.value) and "Two" in str(err.value) and "GET /a" in str(err.value)


def test_functions_yml_paths_relative_and_hash_tracks_config(tmp_path: Path) -> None:
    layer = Layer("Common", "common", Path("/l"))
    app = _app(_fn("One", "one", layers=("Common",), environment=(("K", "v"),)), layers=(layer,))
    entry = yaml.safe_load(render_functions(app, BuildTree(tmp_path / "out")))["functions"]["one"]
    assert entry["code_dir"] == "functions/one/src"
    assert entry["layer_dirs"] == ["functions/one/layers/common"]
    changed = _app(_fn("One", "one", layers=("Common",), environment=(("K", "w"),)), layers=(layer,))
    other = yaml.safe_load(render_functions(changed, BuildTree(tmp_path / "elsewhere")))["functions"]["one"]
    assert other["config_hash"] != entry["config_hash"]
    same = yaml.safe_load(render_functions(app, BuildTree(tmp_path / "elsewhere")))["functions"]["one"]
    assert same["config_hash"] == entry["config_hash"]


def test_dockerfile_base_override_layers_and_cmd(tmp_path: Path) -> None:
    layer = Layer("Common", "common", Path("/l"))
    app = _app(_fn("One", "one", layers=("Common",)), layers=(layer,))
    text = render_dockerfile(app, app.functions[0], _project(tmp_path, images=Images(base="local/lambda:{version}-x")))
    lines = text.splitlines()
    assert lines[1] == "FROM local/lambda:3.11-x"
    assert "COPY layers/common/ /opt/" in lines
    assert lines[-1] == 'CMD ["app.handler"]' and text.endswith("\n")


def test_dockerfile_rejects_unsupported_runtime(tmp_path: Path) -> None:
    app = _app(replace(_fn("One", "one"), runtime="java21"))
    with pytest.raises(BuildError, match="java21"):
        render_dockerfile(app, app.functions[0], _project(tmp_path))


def test_dockerfile_of_a_node_function_uses_the_node_base_of_its_major(tmp_path: Path) -> None:
    app = _app(replace(_fn("One", "one"), runtime="nodejs22.x", handler="index.handler"))
    text = render_dockerfile(app, app.functions[0], _project(tmp_path, images=Images(base_nodejs="local/node:{version}")))
    assert text.splitlines()[1] == "FROM local/node:22"
    assert text.splitlines()[-1] == 'CMD ["index.handler"]'


def test_functions_yml_names_each_function_its_runtime_environment(tmp_path: Path) -> None:
    app = _app(replace(_fn("Node", "node"), runtime="nodejs20.x"), _fn("Py", "py"))
    doc = yaml.safe_load(render_functions(app, BuildTree(tmp_path / ".esb")))["functions"]
    assert doc["node"]["runtime_dir"] == "runtimes/nodejs"
    assert doc["py"]["runtime_dir"] == f"runtimes/{doc['py']['runtime']}"


def test_compose_overrides_ports_images_and_bind(tmp_path: Path) -> None:
    project = _project(tmp_path, images=Images(s3="mirror/rustfs:1", gateway="mine/gw:2"), ports=Ports(s3=19000), bind="0.0.0.0")
    text = render_compose(_app(), project)
    doc = yaml.safe_load(text)
    assert doc["services"]["s3"]["image"] == "mirror/rustfs:1"
    assert doc["services"]["s3"]["ports"] == ["0.0.0.0:19000:9000"]
    assert doc["services"]["gateway"]["image"] == "mine/gw:2" and "build" not in doc["services"]["gateway"]
    assert doc["services"]["manager"]["build"]["dockerfile"] == "manager.Dockerfile"
    assert render_compose(_app(), project) == text


@pytest.mark.parametrize(("images", "services"), [
    (Images(s3="embedded", dynamodb="embedded"), "http://stores:4566"),
    (Images(), None),  # RustFS/ScyllaDB serve S3 and DynamoDB only
])
def test_compose_gives_the_manager_and_gateway_the_services_endpoint_of_embedded_stores(
        tmp_path: Path, images: Images, services: str | None) -> None:
    doc = yaml.safe_load(render_compose(_app(), _project(tmp_path, images=images)))
    for part in ("manager", "gateway"):
        assert doc["services"][part]["environment"].get("ESB_SERVICES_ENDPOINT") == services
