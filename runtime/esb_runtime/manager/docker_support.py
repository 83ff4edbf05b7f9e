"""What the docker engine is built from: labels, docker error translation, container environment, log pumping."""

from __future__ import annotations

import http.client
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from esb_runtime.contract import RIE_LOG_LEVEL_ENV, rie_identity
from esb_runtime.engine import LineSink, SandboxSpec
from esb_runtime.errors import EngineError

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

PROJECT_LABEL = "esb.project"
FUNCTION_LABEL = "esb.function"
HASH_LABEL = "esb.config-hash"
SANDBOX_LABEL = "esb.sandbox"
MANAGER_LABEL = "esb.manager"  # the engine instance that started the container
RIE_PORT = "8080/tcp"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """The one place docker SDK and transport errors become EngineError."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineError(f"{what}: {exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineError(f"{what}: cannot talk to the docker daemon ({exc})") from exc


CA_BUNDLE_PATH = "/etc/esb/ca.pem"  # where a host AWS_CA_BUNDLE file is mounted (read-only)


def interface_address(name: str) -> str | None:
    """The IPv4 address of a network interface (SIOCGIFADDR), or None."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def host_gateway_address(client: docker.DockerClient) -> str | None:
    """What `host-gateway` resolves to in containers: the default bridge's gateway; a docker0 that existed
    before dockerd started leaves that empty, then the interface's own address. Docker errors propagate."""
    attrs = client.networks.get("bridge").attrs
    for entry in attrs.get("IPAM", {}).get("Config") or []:
        if entry.get("Gateway"):
            return str(entry["Gateway"])
    return interface_address((attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0"))


def container_environment(spec: SandboxSpec, s3_host: str | None = None,
                          rie_log_level: str = "error") -> dict[str, str]:
    """The Lambda environment as seen from a container: host-loopback endpoints point at the host,
    and a host CA bundle path becomes the path it is mounted at (see `ca_bundle_mount`). With `s3_host`
    (the host's address), S3 is reached by IP: SDKs then address buckets by path, where a bucket's
    virtual-host name (<bucket>.host.docker.internal) would not resolve (the AWS SDK for JavaScript v3).
    The base image's entrypoint takes `rie_log_level` out of the environment before the RIE starts."""
    env = {**rie_identity(spec.function, spec.timeout_s, spec.memory_mb), **spec.environment,
           RIE_LOG_LEVEL_ENV: rie_log_level}
    if spec.runtime.startswith("nodejs"):
        env.pop("AWS_EXECUTION_ENV", None)  # the base image says which Node.js it really has
    for key, value in env.items():
        if key.startswith("AWS_ENDPOINT_URL"):
            # 127.0.0.1 inside a container is the container; the store must listen on the bridge too.
            host = s3_host if s3_host and key == "AWS_ENDPOINT_URL_S3" else "host.docker.internal"
            env[key] = re.sub(r"//(127\.0\.0\.1|localhost)([:/]|$)", rf"//{host}\2", value)
    if env.get("AWS_CA_BUNDLE"):
        env["AWS_CA_BUNDLE"] = CA_BUNDLE_PATH
        if spec.runtime.startswith("nodejs"):
            env["NODE_EXTRA_CA_CERTS"] = CA_BUNDLE_PATH  # the JS SDK trusts the box CA through node
    return env


def run_overrides(spec: SandboxSpec) -> dict[str, Any]:
    """`containers.run` arguments for what starts in the container: the handler as CMD (zip functions on the
    box's base image), or an image function's ImageConfig (empty parts keep the image's own)."""
    if spec.package_type != "Image":
        return {"command": [spec.handler]}
    config = spec.image_config
    if config is None:
        return {}
    overrides: dict[str, Any] = {}
    if config.command:
        overrides["command"] = list(config.command)
    if config.entry_point:
        overrides["entrypoint"] = list(config.entry_point)
    if config.working_directory:
        overrides["working_dir"] = config.working_directory
    return overrides


def ca_bundle_mount(spec: SandboxSpec) -> dict[str, dict[str, str]]:
    """The box CA (a public certificate, nothing secret) mounted read-only when the spec names one."""
    host_path = spec.environment.get("AWS_CA_BUNDLE")
    if not host_path:
        return {}
    return {host_path: {"bind": CA_BUNDLE_PATH, "mode": "ro"}}


def _host_port(container: Container) -> int | None:
    """The published RIE port, from inspect data or from a sparse list entry."""
    if "Ports" in container.attrs:  # sparse (containers.list(sparse=True)): [{"PrivatePort", "PublicPort"}]
        for entry in container.attrs.get("Ports") or []:
            if entry.get("PrivatePort") == int(RIE_PORT.split("/")[0]) and entry.get("PublicPort"):
                return int(entry["PublicPort"])
        return None
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(RIE_PORT) or []
    return int(bindings[0]["HostPort"]) if bindings else None


def _bridge_address(container: Container, network: str) -> tuple[str, int] | None:
    """The RIE at the container's own address on `network` (inspect data and sparse list entries alike)."""
    networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    address = (networks.get(network) or {}).get("IPAddress")
    return (str(address), int(RIE_PORT.split("/")[0])) if address else None


def _labels(container: Container) -> dict[str, str]:
    """Labels from inspect data (Config.Labels) or from a sparse list entry (Labels)."""
    return dict((container.attrs.get("Config") or {}).get("Labels") or container.attrs.get("Labels") or {})


def _rie_answers(port: int, timeout_s: float, host: str = "127.0.0.1") -> bool:
    """Any HTTP answer from GET / means the RIE listens; docker-proxy alone accepts then closes."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/")  # not the invoke path: a GET there would run the function
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _pump_lines(chunks: Iterable[bytes], on_line: LineSink) -> None:
    """Split the docker log stream (arbitrary chunks) into lines for the sink."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            on_line(line.rstrip(b"\r").decode("utf-8", "replace"))
    if pending:
        on_line(pending.decode("utf-8", "replace"))
