"""Pieces of the docker box that need no daemon: engine choice, fallback, the bridge forwarder, env rewrites."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from esb import commands
from esb.box import docker_box
from esb.box.state import BoxState
from esb.errors import BuildError, ConfigError
from esb_runtime.engine import SandboxSpec
from esb_runtime.manager.docker_engine import CA_BUNDLE_PATH, ca_bundle_mount, container_environment
from fakes import BridgeClient


class _Client:
    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def ping(self) -> bool:
        if not self.answer:
            raise ConnectionError("no daemon")
        return True

    def close(self) -> None:
        pass


def test_a_unix_socket_nobody_listens_on_means_no_daemon(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"  # left behind by a dockerd that stopped
    with socket.socket(socket.AF_UNIX) as gone:
        gone.bind(str(stale))
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "live.sock"))
    listening.listen(1)
    try:
        assert docker_box.no_daemon_socket({"DOCKER_HOST": f"unix://{tmp_path / 'absent.sock'}"}) is True
        assert docker_box.no_daemon_socket({"DOCKER_HOST": f"unix://{stale}"}) is True
        assert docker_box.no_daemon_socket({"DOCKER_HOST": f"unix://{tmp_path / 'live.sock'}"}) is False
        assert docker_box.no_daemon_socket({"DOCKER_HOST": "tcp://127.0.0.1:2375"}) is False  # only asking tells
    finally:
        listening.close()


def test_daemon_answers_is_false_on_any_failure() -> None:
    assert docker_box.daemon_answers(lambda: _Client(True)) is True
    assert docker_box.daemon_answers(lambda: _Client(False)) is False

    def broken() -> Any:
        raise RuntimeError("no SDK")

    assert docker_box.daemon_answers(broken) is False


def test_resolve_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_box, "daemon_answers", lambda: True)
    assert commands.resolve_engine("auto") == "docker"
    monkeypatch.setattr(docker_box, "daemon_answers", lambda: False)
    assert commands.resolve_engine("auto") == "process"
    assert commands.resolve_engine("docker") == "docker"
    assert commands.resolve_engine("process") == "process"
    with pytest.raises(ConfigError):
        commands.resolve_engine("vm")


def test_auto_falls_back_to_process_when_images_cannot_be_built(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    from esb.box.launch import BoxOptions
    from esb.paths import BuildTree

    started: list[str] = []

    def fail(ctx: Any, say: Any) -> None:
        raise BuildError("debootstrap failed")

    monkeypatch.setattr(docker_box, "build_images", fail)
    monkeypatch.setattr(docker_box.box, "up", lambda opts, app, say: started.append(opts.engine) or "state")
    opts = BoxOptions(tree=BuildTree(tmp_path / ".esb"), project_dir=tmp_path, rie_path=tmp_path / "rie")
    ctx: Any = type("Ctx", (), {"app": object()})()
    lines: list[str] = []
    assert docker_box.up(ctx, opts, lines.append, fallback=True) == "state"
    assert started == ["process"] and "using the process engine" in lines[-1]
    with pytest.raises(BuildError):  # --engine docker asked for docker: no silent fallback
        docker_box.up(ctx, opts, lines.append, fallback=False)


def test_endpoint_ports_are_the_stores_and_gateway_ports() -> None:
    state = BoxState(project="p", engine="docker", gateway_url="https://127.0.0.1:9443", ca_file="",
                     s3_endpoint="http://127.0.0.1:4000", dynamodb_endpoint="http://127.0.0.1:4000",
                     lambda_endpoint="https://127.0.0.1:9443", region="us-east-1", started_at=0.0)
    assert docker_box.endpoint_ports(state) == [4000, 9443]


def test_container_environment_points_at_the_host_and_the_mounted_ca(tmp_path: Path) -> None:
    spec = SandboxSpec(function="f", config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=tmp_path, deps_dir=None, layer_dirs=(), memory_mb=128, timeout_s=3,
                       environment={"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4000",
                                    "AWS_ENDPOINT_URL_LAMBDA": "https://localhost:9443/",
                                    "AWS_CA_BUNDLE": str(tmp_path / "ca.pem"), "OTHER": "http://127.0.0.1:1"})
    env = container_environment(spec)
    assert env["AWS_ENDPOINT_URL_S3"] == "http://host.docker.internal:4000"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "https://host.docker.internal:9443/"
    assert env["OTHER"] == "http://127.0.0.1:1"  # only endpoint variables are rewritten
    assert env["AWS_CA_BUNDLE"] == CA_BUNDLE_PATH
    assert ca_bundle_mount(spec) == {str(tmp_path / "ca.pem"): {"bind": CA_BUNDLE_PATH, "mode": "ro"}}


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_forwarder_relays_another_address_to_loopback_byte_for_byte() -> None:
    server, port = _echo_server()
    proc = subprocess.Popen([sys.executable, "-m", "esb.box.docker_box", "forward", "127.0.0.2", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "forwarding" in (proc.stdout.readline() if proc.stdout else "")
        payload = b"x" * 200_000
        with socket.create_connection(("127.0.0.2", port), timeout=5) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        assert received == payload.upper()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.close()
    assert proc.returncode == 0  # SIGTERM stops it cleanly


def test_forwarder_usage_error() -> None:
    assert docker_box.main(["forward"]) == 2
    assert docker_box.main(["nope", "1.2.3.4", "1"]) == 2


def test_listening_is_false_for_a_closed_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    assert docker_box._listening("127.0.0.1", port) is False
    assert time.monotonic() - started < 5


def test_bridge_address_prefers_the_ipam_gateway() -> None:
    attrs = {"IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}}
    assert docker_box.bridge_address(BridgeClient(attrs)) == "172.17.0.1"


def test_bridge_address_falls_back_to_the_bridge_interface_when_ipam_has_no_gateway() -> None:
    # What a daemon reports when its bridge interface existed before dockerd started: the subnet, no gateway.
    attrs = {"IPAM": {"Config": [{"Subnet": "127.0.0.0/8"}]}, "Options": {"com.docker.network.bridge.name": "lo"}}
    assert docker_box.bridge_address(BridgeClient(attrs)) == "127.0.0.1"


def test_bridge_address_without_any_address_is_one_clear_error() -> None:
    from esb.errors import BoxError

    attrs = {"IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]}, "Options": {"com.docker.network.bridge.name": "nosuch0"}}
    with pytest.raises(BoxError, match="has no gateway address"):
        docker_box.bridge_address(BridgeClient(attrs))
