"""The seed's compose stack, built offline: gateway + manager images from the output tree, the embedded
moto stores in place of RustFS/ScyllaDB, function containers on the stack's network."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from esb.box import compose_stack as compose
from esb.cli import main
from esb.errors import BoxError
from esb.paths import P
from esb.project import load_project
from esb.build.context import build_context
from boxkit import remove_images as remove_project_images
from tools import need_tool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _context(project: Path) -> Any:
    return build_context(load_project(None, cwd=project, env={}))


def _new_project(root: Path, generator: str) -> Path:
    project = root / f"dcmp{uuid.uuid4().hex[:8]}"
    shutil.copytree(P.fixtures / "sample", project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    (project / "generator.yml").write_text(generator)
    cwd = Path.cwd()
    os.chdir(project)
    try:
        assert main(["build"]) == 0
    finally:
        os.chdir(cwd)
    return project


def test_compose_command_prefers_the_v2_plugin() -> None:
    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(argv, 0 if plugin else 1)

    plugin = True
    assert compose.compose_command(lambda name: f"/usr/bin/{name}", run) == ["docker", "compose"]
    plugin = False
    assert compose.compose_command(lambda name: f"/usr/bin/{name}", run) == ["docker-compose"]


def test_default_stack_file_is_valid_for_compose(tmp_path: Path) -> None:
    """The seed's stack (RustFS, ScyllaDB, VictoriaLogs) as compose reads it; needs no daemon."""
    try:
        compose.compose_command()
    except BoxError:
        need_tool(False, "no compose tool (docker compose plugin or docker-compose)")
    ctx = _context(_new_project(tmp_path, "images: {}\n"))
    resolved = yaml.safe_load(compose.check_config(ctx.project))
    assert set(resolved["services"]) == {"gateway", "manager", "s3", "dynamodb", "logs"}
    assert resolved["services"]["s3"]["image"].startswith("rustfs/")
    gateway = resolved["services"]["gateway"]
    assert gateway["environment"]["AWS_ACCESS_KEY_ID"].startswith("AKIA")  # interpolated from the secrets
    port = gateway["ports"][0]  # compose 1.29 prints the short form, v2 the long one
    assert (port["host_ip"] == "127.0.0.1") if isinstance(port, dict) else port.startswith("127.0.0.1:")


@pytest.fixture(scope="module")
def stack(docker_daemon: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    gateway_port, stores_port = _free_port(), _free_port()
    project = _new_project(tmp_path_factory.mktemp("compose"), (
        "images: {s3: embedded, dynamodb: embedded, logs: local}\n"
        f"ports: {{gateway: {gateway_port}, s3: {stores_port}}}\n"))
    ctx = _context(project)
    cwd = Path.cwd()
    os.chdir(project)
    try:
        # Through the CLI, as a user starts it; then ask docker how the services are.
        assert main(["up", "-d", "--engine", "compose"]) == 0
        import docker as docker_sdk

        sdk = docker_sdk.from_env()
        states = compose.wait_healthy(sdk, compose.project_name(ctx.project))
        sdk.close()
        ca = ssl.create_default_context(cafile=str(ctx.tree.tls / "ca.pem"))
        with httpx.Client(base_url=f"https://127.0.0.1:{gateway_port}", verify=ca, timeout=60) as client:
            yield {"ctx": ctx, "states": states, "client": client, "project": project}
    finally:
        assert main(["down", "--volumes"]) == 0
        os.chdir(cwd)
        remove_project_images(ctx.app.stack_name)
        import docker

        client = docker.from_env()
        for role in ("gateway", "manager"):
            try:
                client.images.remove(compose.runtime_image(ctx.project, role))
            except docker.errors.APIError:
                pass
        client.close()


def test_stack_is_healthy_without_registry_images(stack: dict[str, Any]) -> None:
    assert stack["states"] == {"gateway": "healthy", "manager": "healthy", "stores": "healthy"}
    health = stack["client"].get("/health").json()
    assert health["manager"]["status"] == "ok" and health["manager"]["engine"] == "docker"


def test_embedded_stores_serve_the_other_services_to_provisioning_and_the_manager(stack: dict[str, Any]) -> None:
    import boto3
    import docker

    from esb.box import state as boxstate
    from esb_runtime import secrets as box_secrets

    ctx = stack["ctx"]
    endpoint = boxstate.read(ctx.tree.state).services_endpoint
    keys = box_secrets.load(ctx.tree.secrets / "box.json")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=ctx.app.region,
                       aws_access_key_id=keys.aws_access_key_id, aws_secret_access_key=keys.aws_secret_access_key)
    assert sqs.create_queue(QueueName="compose-check")["QueueUrl"].endswith("/compose-check")
    sdk = docker.from_env()
    try:  # the manager's pollers and its sandboxes reach the same stores by service name
        labels = [f"com.docker.compose.project={compose.project_name(ctx.project)}",
                  "com.docker.compose.service=manager"]
        [manager] = sdk.containers.list(filters={"label": labels})
        assert "ESB_SERVICES_ENDPOINT=http://stores:4566" in manager.attrs["Config"]["Env"]
    finally:
        sdk.close()


def test_stack_runs_functions_in_containers_on_its_network(stack: dict[str, Any]) -> None:
    import docker

    client = stack["client"]
    assert client.get("/hello").json() == {"message": "hello, world"}
    secrets = stack["ctx"].tree.secrets / "box.json"
    from esb_runtime import secrets as box_secrets

    keys = box_secrets.load(secrets)
    token = client.post("/user/auth/v1", headers={"x-api-key": keys.api_key}, json={
        "AuthParameters": {"USERNAME": keys.username, "PASSWORD": keys.password}}).json()
    headers = {"Authorization": f"Bearer {token['AuthenticationResult']['IdToken']}"}
    assert client.put("/items/c1", json={"n": "x"}, headers=headers).status_code == 201
    assert {"id": "c1", "n": "x"} in client.get("/items", headers=headers).json()["items"]
    sdk = docker.from_env()
    try:
        name = stack["ctx"].app.stack_name
        sandboxes = sdk.containers.list(filters={"label": f"esb.project={name}"})
        assert sandboxes
        for container in sandboxes:  # reached over the network by name, never through a host port
            assert not container.attrs["NetworkSettings"]["Ports"]
            assert f"esb-{name}" in container.attrs["NetworkSettings"]["Networks"]
    finally:
        sdk.close()


def test_local_logs_are_the_hosts_to_read_and_delete(stack: dict[str, Any],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import docker

    ctx = stack["ctx"]
    assert stack["client"].get("/hello").status_code == 200
    files = sorted(ctx.tree.logs.glob("*.jsonl"))  # the bind mount, not a named volume the host cannot read
    assert files
    for path in (ctx.tree.logs, *files):  # handed to whoever ran `esb up`
        assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid())
    cwd = Path.cwd()
    os.chdir(stack["project"])
    try:
        capsys.readouterr()
        assert main(["logs", f"{ctx.app.stack_name}-hello"]) == 0
    finally:
        os.chdir(cwd)
    assert f"{ctx.app.stack_name}-hello" in capsys.readouterr().out
    sdk = docker.from_env()
    try:  # an `up` without --debug: the manager's emulator stays at its error level
        labels = [f"com.docker.compose.project={compose.project_name(ctx.project)}",
                  "com.docker.compose.service=manager"]
        [manager] = sdk.containers.list(filters={"label": labels})
        env = manager.attrs["Config"]["Env"]
        assert "ESB_DEBUG=0" in env and f"ESB_LOG_OWNER={os.getuid()}:{os.getgid()}" in env
    finally:
        sdk.close()


def test_down_removes_the_stack_and_its_sandboxes(stack: dict[str, Any]) -> None:
    import docker

    ctx = stack["ctx"]
    stack["client"].close()
    compose.down(ctx.project, volumes=True, say=lambda _: None)
    sdk = docker.from_env()
    try:
        stack_label = f"com.docker.compose.project={compose.project_name(ctx.project)}"
        left = sdk.containers.list(all=True, filters={"label": stack_label})
        sandboxes = sdk.containers.list(all=True, filters={"label": f"esb.project={ctx.app.stack_name}"})
        networks = [n for n in sdk.networks.list() if n.name == f"esb-{ctx.app.stack_name}"]
    finally:
        sdk.close()
    assert (left, sandboxes, networks) == ([], [], [])
