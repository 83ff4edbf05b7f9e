"""How containers reach the host's stores: S3 by IP (path-style buckets in every SDK), the rest by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from esb_runtime.contract import RIE_LOG_LEVEL_ENV
from esb_runtime.engine import SandboxSpec
from esb_runtime.manager.docker_engine import DockerEngine
from esb_runtime.manager.engines import create_engine
from esb_runtime.settings import RuntimeSettings
from esb_runtime.manager.docker_support import container_environment, host_gateway_address
from fakes import BridgeClient


def _spec(tmp_path: Path) -> SandboxSpec:
    env = {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4566",
           "AWS_ENDPOINT_URL_LAMBDA": "https://127.0.0.1:8443"}
    return SandboxSpec(function="f", config_hash="h", handler="index.handler", runtime="nodejs20.x",
                       code_dir=tmp_path, deps_dir=None, layer_dirs=(), environment=env, memory_mb=128, timeout_s=3)


def test_s3_is_reached_by_ip_when_the_host_address_is_known(tmp_path: Path) -> None:
    env = container_environment(_spec(tmp_path), s3_host="172.17.0.1")
    assert env["AWS_ENDPOINT_URL_S3"] == "http://172.17.0.1:4566"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://host.docker.internal:4566"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "https://host.docker.internal:8443"  # the certificate names it
    assert container_environment(_spec(tmp_path))["AWS_ENDPOINT_URL_S3"] == "http://host.docker.internal:4566"


def test_host_gateway_address_falls_back_to_the_bridge_interface() -> None:
    assert host_gateway_address(BridgeClient({"IPAM": {"Config": [{"Subnet": "x", "Gateway": "172.30.0.1"}]}})) == "172.30.0.1"
    # docker0 created before dockerd: no IPAM gateway; the named interface is asked (here: one that does not exist).
    attrs = {"IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]},
             "Options": {"com.docker.network.bridge.name": "esb-no-such0"}}
    assert host_gateway_address(BridgeClient(attrs)) is None
    assert host_gateway_address(BridgeClient({"IPAM": {"Config": [{"Subnet": "x"}]}, "Options": {
        "com.docker.network.bridge.name": "lo"}})) == "127.0.0.1"


def test_the_rie_log_level_is_the_boxs_and_the_functions_log_level_stays(tmp_path: Path) -> None:
    spec = dataclasses.replace(_spec(tmp_path), environment={**_spec(tmp_path).environment, "LOG_LEVEL": "DEBUG"})
    assert container_environment(spec)[RIE_LOG_LEVEL_ENV] == "error"
    env = container_environment(spec, rie_log_level="debug")
    assert env[RIE_LOG_LEVEL_ENV] == "debug" and env["LOG_LEVEL"] == "DEBUG"


@pytest.mark.parametrize("debug, level", [(False, "error"), (True, "debug")])
def test_esb_up_debug_reaches_the_docker_engine(tmp_path: Path, debug: bool, level: str) -> None:
    engine = create_engine(RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None,
                                           engine="docker", debug=debug))
    assert isinstance(engine, DockerEngine) and engine.rie_log_level == level


class _Container:
    def __init__(self, networks: dict[str, dict[str, str]]) -> None:
        self.attrs = {"NetworkSettings": {"Networks": networks}}


def test_warm_calls_skip_docker_proxy_only_where_the_host_routes_to_the_bridge() -> None:
    """The container's bridge address when known (and reachable, asked once), else the published port."""
    from esb_runtime.contract import network_name
    from esb_runtime.manager.docker_support import _bridge_address

    published = ("127.0.0.1", 32768)
    engine = DockerEngine("proj", client_factory=BridgeClient)
    engine._in_network = False
    assert engine.reach(_Container({}), published) == published  # no address on the project's network
    assert _bridge_address(_Container({network_name("proj"): {"IPAddress": "172.30.0.2"}}),
                           network_name("proj")) == ("172.30.0.2", 8080)
    engine._direct = False  # this host does not route to the bridge (e.g. rootless docker): never asked again
    assert engine.reach(_Container({network_name("proj"): {"IPAddress": "172.30.0.2"}}), published) == published
    engine._direct, engine._in_network = None, True  # the manager on the project's network: names, not ports
    assert engine.reach(_Container({network_name("proj"): {"IPAddress": "172.30.0.2"}}), published) == published
