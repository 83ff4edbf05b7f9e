"""The docker engine against a real daemon: start, invoke, limits, labels, adopt, kill, down."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import time
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from esb_runtime.engine import SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager.docker_engine import (FUNCTION_LABEL, HASH_LABEL, PROJECT_LABEL, DockerEngine,
                                               network_name, remove_project)

def make_spec(image: str | None, config_hash: str = "hash-1", memory_mb: int = 160) -> SandboxSpec:
    return SandboxSpec(function="echo", config_hash=config_hash, handler="app.handler", runtime="python3.11",
                       code_dir=Path("/nonexistent"), deps_dir=None, layer_dirs=(),
                       environment={"CUSTOM": "yes"}, memory_mb=memory_mb, timeout_s=3, image=image)


def engine_for(project: str, client: docker.DockerClient) -> DockerEngine:
    return DockerEngine(project, client_factory=lambda: client)


def reached_at(client: docker.DockerClient, sandbox: Any, project: str) -> str:
    """Where warm calls must go: the container's bridge address when this host routes to it (no docker-proxy in
    the path), else the loopback port docker published."""
    container = client.containers.get(sandbox.ref.id)
    bridge = container.attrs["NetworkSettings"]["Networks"][network_name(project)]["IPAddress"]
    try:
        socket.create_connection((bridge, 8080), timeout=1).close()
    except OSError:
        return "127.0.0.1:"
    return f"{bridge}:8080/"


def invoke(url: str, event: object, headers: dict[str, str] | None = None) -> dict:
    response = httpx.post(url, content=json.dumps(event), headers=headers, timeout=30)
    assert response.status_code == 200
    return response.json()


def wait_for(predicate, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_start_invoke_logs_labels_and_memory(docker_client: docker.DockerClient, function_image: str,
                                             project: str) -> None:
    lines: list[str] = []
    engine = engine_for(project, docker_client)
    sandbox = engine.start(make_spec(function_image), lines.append)
    assert sandbox.invoke_url.startswith(f"http://{reached_at(docker_client, sandbox, project)}")
    answer = invoke(sandbox.invoke_url, {"n": 1})
    assert answer["echo"] == {"n": 1}
    assert answer["task_root"] == "/var/task" and answer["cwd"] == "/var/task"
    assert answer["custom"] == "yes" and answer["memory"] == "160" and answer["layer"] == "from-layer"
    assert wait_for(lambda: any(line.startswith("REPORT RequestId") for line in lines))
    assert any('handler saw {"n": 1}' in line for line in lines)

    container = docker_client.containers.get(sandbox.ref.id)  # type: ignore[union-attr]
    assert container.labels[PROJECT_LABEL] == project
    assert container.labels[FUNCTION_LABEL] == "echo"
    assert container.labels[HASH_LABEL] == "hash-1"
    assert container.attrs["HostConfig"]["Memory"] == 160 * 1024 * 1024
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [network_name(project)]
    binding = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]
    assert binding["HostIp"] == "127.0.0.1"
    assert engine.alive(sandbox)

    engine.stop(sandbox)
    engine.stop(sandbox)  # idempotent
    assert not engine.alive(sandbox)
    assert not docker_client.containers.list(all=True, filters={"id": container.id})


@pytest.mark.parametrize(("level", "chatter"), [("error", False), ("debug", True)])
def test_emulator_lines_only_at_its_debug_level(docker_client: docker.DockerClient, function_image: str,
                                                project: str, level: str, chatter: bool) -> None:
    """The RIE's own INFO/DEBUG lines appear only with `esb up --debug`; the function's LOG_LEVEL is not its."""
    lines: list[str] = []
    engine = DockerEngine(project, client_factory=lambda: docker_client, rie_log_level=level)
    sandbox = engine.start(dataclasses.replace(make_spec(function_image), environment={"LOG_LEVEL": "DEBUG"}),
                           lines.append)
    try:
        answer = invoke(sandbox.invoke_url, {"n": 1})
        assert wait_for(lambda: any(line.startswith("REPORT RequestId") for line in lines))
    finally:
        engine.stop(sandbox)
    assert answer["log_level"] == "DEBUG" and answer["rie_level_var"] is None
    assert answer["gomaxprocs"] is None  # the RIE runs on one Go thread; its runtime never sees the setting
    assert any('handler saw {"n": 1}' in line for line in lines)
    assert any("(rapid)" in line for line in lines) is chatter


def test_docker_kill_makes_alive_false(docker_client: docker.DockerClient, function_image: str,
                                       project: str) -> None:
    engine = engine_for(project, docker_client)
    sandbox = engine.start(make_spec(function_image), lambda _line: None)
    docker_client.containers.get(sandbox.ref.id).kill()  # type: ignore[union-attr]
    assert wait_for(lambda: not engine.alive(sandbox))


def test_adopt_keeps_current_and_removes_stale(docker_client: docker.DockerClient, function_image: str,
                                               project: str) -> None:
    first = engine_for(project, docker_client)
    current = first.start(make_spec(function_image, "hash-new"), lambda _line: None)
    stale = first.start(make_spec(function_image, "hash-old"), lambda _line: None)

    lines: list[str] = []
    second = engine_for(project, docker_client)  # a restarted manager
    adopted = second.adopt({"echo": make_spec(function_image, "hash-new")}, lambda _sid: lines.append)
    assert [s.id for s in adopted] == [current.id]
    assert adopted[0].ref.id == current.ref.id  # type: ignore[union-attr]
    assert adopted[0].invoke_url == current.invoke_url
    assert invoke(adopted[0].invoke_url, {"again": True})["echo"] == {"again": True}
    assert wait_for(lambda: any("START RequestId" in line for line in lines))
    remaining = docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    assert [c.id for c in remaining] == [current.ref.id]  # type: ignore[union-attr]
    assert stale.ref.id not in [c.id for c in remaining]  # type: ignore[union-attr]


def test_remove_project_leaves_nothing_of_the_project(docker_client: docker.DockerClient, function_image: str,
                                                      project: str) -> None:
    engine = engine_for(project, docker_client)
    other = engine_for(project + "-other", docker_client)
    # The other project first: its network name extends ours, which must not pass for ours.
    bystander = other.start(make_spec(function_image), lambda _line: None)
    engine.start(make_spec(function_image), lambda _line: None)
    engine.start(make_spec(function_image), lambda _line: None)
    try:
        assert remove_project(project, client_factory=lambda: docker_client) == 2
        assert not docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
        assert network_name(project) not in [n.name for n in docker_client.networks.list()]
        assert network_name(project + "-other") in [n.name for n in docker_client.networks.list()]
        assert other.alive(bystander)  # another project's container is untouched
    finally:
        remove_project(project + "-other", client_factory=lambda: docker_client)


def test_missing_image_is_an_engine_error(docker_client: docker.DockerClient, project: str) -> None:
    engine = engine_for(project, docker_client)
    with pytest.raises(EngineError):
        engine.start(make_spec("esb/does-not-exist:nope"), lambda _line: None)
    with pytest.raises(EngineError, match="no function image"):
        engine.start(make_spec(None), lambda _line: None)


def test_image_comes_from_the_record_beside_the_code(docker_client: docker.DockerClient, function_image: str,
                                                     project: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "image.json").write_text(json.dumps({"tag": function_image, "id": "x"}))
    spec = dataclasses.replace(make_spec(None), code_dir=tmp_path / "src")
    sandbox = engine_for(project, docker_client).start(spec, lambda _line: None)
    assert docker_client.containers.get(sandbox.ref.id).image.tags == [function_image]  # type: ignore[union-attr]


def test_limits_note_reports_what_the_daemon_enforces(docker_client: docker.DockerClient, project: str) -> None:
    note = engine_for(project, docker_client).limits_note()
    info = docker_client.info()
    assert (note is None) == (info.get("MemoryLimit", True) and info.get("SwapLimit", True))


def test_sandbox_bootstrap_restores_the_trace_id(docker_client: docker.DockerClient, function_image: str,
                                                 project: str) -> None:
    trace = "Root=1-5f84c7a1-0123456789abcdef01234567;Sampled=1"
    context = {"custom": {"x-esb-trace-id": trace}}
    headers = {"X-Amz-Client-Context": base64.b64encode(json.dumps(context).encode()).decode()}
    engine = engine_for(project, docker_client)
    sandbox = engine.start(make_spec(function_image), lambda _line: None)
    assert invoke(sandbox.invoke_url, {}, headers)["trace"] == trace
