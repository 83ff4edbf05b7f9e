"""View-models and renderers of docker-compose.yml and the gateway/manager Dockerfiles (the seed's stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from esb.model import Application
from esb.paths import BuildTree
from esb.project import Project
from esb.render.environment import render
from esb_runtime.contract import DEFAULT_GATEWAY_PORT, network_name

# Inside the gateway/manager containers the output tree is mounted here.
CONTAINER_OUT = "/opt/esb/out"
CONTAINER_PORTS = {"gateway": DEFAULT_GATEWAY_PORT, "s3": 9000, "dynamodb": 8000, "logs": 9428}
CONTAINER_PORTS["stores"] = 4566
# Python packages the runtime images need; esb/compose.py installs them on the host into <out>/site
# (no registry at build time, no pip in the image) and the Dockerfiles COPY that in.
RUNTIME_PACKAGES = ("awslambdaric", "boto3", "cryptography", "docker", "falcon", "gevent", "gunicorn", "httptools",
                    "httpx", "PyJWT", "pyyaml", "moto", "packaging")
# `images.s3` / `images.dynamodb: embedded` run the box's own moto stores (one `stores` service,
# from the manager image) instead of RustFS / ScyllaDB; `images.logs: local` keeps JSON-lines logs.
EMBEDDED = "embedded"
LOCAL_LOGS = "local"
# Credentials reach the stack only through interpolation of the environment `esb up` supplies.
CREDENTIAL_VARS = ("ESB_AWS_ACCESS_KEY_ID", "ESB_AWS_SECRET_ACCESS_KEY")
# `esb up --debug` reaches the manager the same way, so the rendered file is one for both kinds of `up`.
DEBUG_VAR = "ESB_DEBUG"
# `images.logs: local`: the JSON-lines files go to the output tree's logs/ (a bind mount, so `esb logs` and the
# console read them on the host), handed to the user `esb up` runs as (ESB_LOG_OWNER, interpolated at up).
OWNER_VAR = "ESB_LOG_OWNER"


def gateway_dockerfile(tree: BuildTree) -> Path:
    return tree.root / "gateway.Dockerfile"


def manager_dockerfile(tree: BuildTree) -> Path:
    return tree.root / "manager.Dockerfile"


def _secret(var: str) -> str:
    return "${%s:?set by esb up}" % var


def _port(project: Project, service: str) -> list[str]:
    return [f"{project.bind}:{getattr(project.ports, service)}:{CONTAINER_PORTS[service]}"]


def _endpoints(project: Project) -> dict[str, str]:
    images = project.images
    stores = f"http://stores:{CONTAINER_PORTS['stores']}"
    return {
        "s3": stores if images.s3 == EMBEDDED else f"http://s3:{CONTAINER_PORTS['s3']}",
        "dynamodb": stores if images.dynamodb == EMBEDDED else f"http://dynamodb:{CONTAINER_PORTS['dynamodb']}",
    }


def _runtime_env(project: Project, engine: str) -> dict[str, str]:
    endpoints = _endpoints(project)
    env = {
        "AWS_ACCESS_KEY_ID": _secret(CREDENTIAL_VARS[0]),
        "AWS_SECRET_ACCESS_KEY": _secret(CREDENTIAL_VARS[1]),
        "ESB_DYNAMODB_ENDPOINT": endpoints["dynamodb"],
        "ESB_ENGINE": engine,
        "ESB_GATEWAY_HOST": "0.0.0.0",
        "ESB_GATEWAY_PORT": str(CONTAINER_PORTS["gateway"]),
        "ESB_LOG_STORE": "local" if project.images.logs == LOCAL_LOGS else "victorialogs",
        "ESB_MANAGER_SOCKET": f"{CONTAINER_OUT}/state/manager.sock",
        "ESB_OUTPUT_DIR": CONTAINER_OUT,
        "ESB_S3_ENDPOINT": endpoints["s3"],
    }
    if EMBEDDED in (project.images.s3, project.images.dynamodb):
        # The embedded stores also serve SQS, SNS, EventBridge, ...: sandboxes and the manager's pollers use them.
        env["ESB_SERVICES_ENDPOINT"] = f"http://stores:{CONTAINER_PORTS['stores']}"
    if project.images.logs != LOCAL_LOGS:
        env["ESB_VICTORIALOGS_URL"] = f"http://logs:{CONTAINER_PORTS['logs']}"
    else:
        env[OWNER_VAR] = "${%s:-}" % OWNER_VAR
    return env


def _logs_volume(project: Project) -> str:
    return f"{'./logs' if project.images.logs == LOCAL_LOGS else 'logs'}:{CONTAINER_OUT}/logs"


def runtime_image(project: Project, role: str) -> str:
    """The gateway/manager image: the override from generator.yml, else the one built from the tree."""
    return getattr(project.images, role) or f"{project.name.lower()}-{role}:{project.tag}"


def _runtime_service(project: Project, role: str, image: str, dockerfile: str) -> dict[str, Any]:
    service: dict[str, Any] = {"image": runtime_image(project, role), "restart": "unless-stopped"}
    if not image:
        service["build"] = {"context": ".", "dockerfile": dockerfile}
    return service


def _store_services(project: Project) -> dict[str, Any]:
    images, services = project.images, {}
    if EMBEDDED in (images.s3, images.dynamodb):
        services["stores"] = {
            "image": runtime_image(project, "manager"),
            # The stores bind loopback (right on a host); in their own container they listen on the stack's network.
            "entrypoint": ["python3", "-m", "esb_runtime.stores"],
            "environment": {**_runtime_env(project, "docker"), "ESB_STORES_PORT": str(CONTAINER_PORTS["stores"]),
                            "ESB_STORES_HOST": "0.0.0.0"},
            # On ports.s3 of the host (loopback by default), so `esb up` can provision tables and buckets.
            "ports": [f"{project.bind}:{project.ports.s3}:{CONTAINER_PORTS['stores']}"],
            "volumes": ["./secrets:/opt/esb/out/secrets:ro", "stores-data:/opt/esb/out/data",
                        *([_logs_volume(project)] if images.logs == LOCAL_LOGS else [])],
            "healthcheck": _health(["CMD", "python3", "-c", _tcp_probe(CONTAINER_PORTS["stores"])]),
        }
    if images.s3 != EMBEDDED:
        services["s3"] = {
            "image": images.s3,
            "environment": {
                "RUSTFS_ACCESS_KEY": _secret(CREDENTIAL_VARS[0]),
                "RUSTFS_SECRET_KEY": _secret(CREDENTIAL_VARS[1]),
                "RUSTFS_ADDRESS": f":{CONTAINER_PORTS['s3']}",
                "RUSTFS_VOLUMES": "/data",
            },
            "ports": _port(project, "s3"),
            "volumes": ["s3-data:/data"],
            "healthcheck": _health(["CMD-SHELL", f"curl -sf http://127.0.0.1:{CONTAINER_PORTS['s3']}/health || exit 1"]),
        }
    if images.dynamodb != EMBEDDED:
        services["dynamodb"] = {
            "image": images.dynamodb,
            "command": [
                f"--alternator-port={CONTAINER_PORTS['dynamodb']}",
                "--alternator-write-isolation=always_use_lwt",
                "--developer-mode=1",
                "--overprovisioned=1",
                "--smp=1",
                "--memory=1G",
            ],
            "ports": _port(project, "dynamodb"),
            "volumes": ["dynamodb-data:/var/lib/scylla"],
            "healthcheck": _health(["CMD-SHELL", f"curl -sf http://127.0.0.1:{CONTAINER_PORTS['dynamodb']}/ || exit 1"], start="60s"),
        }
    if images.logs != LOCAL_LOGS:
        services["logs"] = {
            "image": images.logs,
            "command": ["-storageDataPath=/vlogs", f"-httpListenAddr=:{CONTAINER_PORTS['logs']}"],
            "ports": _port(project, "logs"),
            "volumes": ["logs-data:/vlogs"],
            "healthcheck": _health(["CMD-SHELL", f"wget -qO- http://127.0.0.1:{CONTAINER_PORTS['logs']}/health || exit 1"]),
        }
    return services


def _tcp_probe(port: int) -> str:
    return f"import socket; socket.create_connection(('127.0.0.1', {port}), 2)"


def compose_view(app: Application, project: Project) -> dict[str, Any]:
    images = project.images
    stores = _store_services(project)
    gateway = _runtime_service(project, "gateway", images.gateway, "gateway.Dockerfile")
    gateway.update(
        environment=_runtime_env(project, "docker"),
        ports=_port(project, "gateway"),
        # Not read-only: the gateway checks (and renews when due) the TLS files under secrets/tls.
        volumes=["./config:/opt/esb/out/config:ro", "./secrets:/opt/esb/out/secrets", "state:/opt/esb/out/state",
                 _logs_volume(project)],
        depends_on={"manager": {"condition": "service_healthy"}},
        healthcheck=_health(["CMD", "python3", "-c", _tcp_probe(CONTAINER_PORTS["gateway"])]),
    )
    manager = _runtime_service(project, "manager", images.manager, "manager.Dockerfile")
    manager.update(
        environment={**_runtime_env(project, "docker"), DEBUG_VAR: "${%s:-0}" % DEBUG_VAR},
        volumes=[
            "./config:/opt/esb/out/config:ro",
            "./functions:/opt/esb/out/functions:ro",
            "./secrets:/opt/esb/out/secrets:ro",
            "state:/opt/esb/out/state",
            _logs_volume(project),
            # The manager is the only privileged part: it starts the function containers.
            "/var/run/docker.sock:/var/run/docker.sock",
        ],
        depends_on={name: {"condition": "service_healthy"} for name in sorted(stores)},
        healthcheck=_health(["CMD", "python3", "-c",
                             f"import os, sys; sys.exit(not os.path.exists('{CONTAINER_OUT}/state/manager.sock'))"]),
    )
    volumes = {"state"} | ({"logs"} if images.logs != LOCAL_LOGS else set()) | {f"{name}-data" for name in stores}
    return {
        "services": {"gateway": gateway, "manager": manager, **stores},
        "volumes": {name: {} for name in sorted(volumes)},
        # One network for the stack and the function containers (docker_engine's `esb-<project>`),
        # so sandboxes reach the stores and the gateway by service name.
        "networks": {"default": {"name": network_name(project.name)}},
    }



def _health(test: list[str], start: str = "10s") -> dict[str, Any]:
    return {"test": test, "interval": "5s", "timeout": "3s", "retries": 30, "start_period": start}


def render_compose(app: Application, project: Project) -> str:
    return render("docker-compose.yml.j2", source=app.template_path.name, document=compose_view(app, project))


def runtime_image_view(project: Project, role: str) -> dict[str, Any]:
    module = "esb_runtime.manager" if role == "manager" else "esb_runtime.gateway"
    return {"base_image": project.images.python, "packages": list(RUNTIME_PACKAGES), "role": role, "module": module,
            "python_version": "3.11"}


def render_runtime_dockerfile(project: Project, role: str) -> str:
    return render(f"{role}.Dockerfile.j2", **runtime_image_view(project, role))
