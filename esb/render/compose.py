"""View-models and renderers of docker-compose.yml and the gateway/manager Dockerfiles (the seed's stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from esb.model import Application
from esb.paths import BuildTree
from esb.project import Project
from esb.render.environment import render

# Inside the gateway/manager containers the output tree is mounted here.
CONTAINER_OUT = "/opt/esb/out"
CONTAINER_PORTS = {"gateway": 8443, "s3": 9000, "dynamodb": 8000, "logs": 9428}
# Python packages the runtime images need, installed from <out>/wheels (no registry at build time).
RUNTIME_PACKAGES = ("awslambdaric", "boto3", "cryptography", "docker", "falcon", "gevent", "gunicorn", "httpx", "PyJWT", "pyyaml")
# Credentials reach the stack only through interpolation of the environment `esb up` supplies.
CREDENTIAL_VARS = ("ESB_AWS_ACCESS_KEY_ID", "ESB_AWS_SECRET_ACCESS_KEY")


def gateway_dockerfile(tree: BuildTree) -> Path:
    return tree.root / "gateway.Dockerfile"


def manager_dockerfile(tree: BuildTree) -> Path:
    return tree.root / "manager.Dockerfile"


def _secret(var: str) -> str:
    return "${%s:?set by esb up}" % var


def _port(project: Project, service: str) -> list[str]:
    return [f"{project.bind}:{getattr(project.ports, service)}:{CONTAINER_PORTS[service]}"]


def _runtime_env(engine: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": _secret(CREDENTIAL_VARS[0]),
        "AWS_SECRET_ACCESS_KEY": _secret(CREDENTIAL_VARS[1]),
        "ESB_DYNAMODB_ENDPOINT": f"http://dynamodb:{CONTAINER_PORTS['dynamodb']}",
        "ESB_ENGINE": engine,
        "ESB_GATEWAY_HOST": "0.0.0.0",
        "ESB_GATEWAY_PORT": str(CONTAINER_PORTS["gateway"]),
        "ESB_LOG_STORE": "victorialogs",
        "ESB_MANAGER_SOCKET": f"{CONTAINER_OUT}/state/manager.sock",
        "ESB_OUTPUT_DIR": CONTAINER_OUT,
        "ESB_S3_ENDPOINT": f"http://s3:{CONTAINER_PORTS['s3']}",
        "ESB_VICTORIALOGS_URL": f"http://logs:{CONTAINER_PORTS['logs']}",
    }


def _runtime_service(project: Project, role: str, image: str, dockerfile: str) -> dict[str, Any]:
    service: dict[str, Any] = {"image": image or f"{project.name}-{role}:{project.tag}", "restart": "unless-stopped"}
    if not image:
        service["build"] = {"context": ".", "dockerfile": dockerfile}
    return service


def compose_view(app: Application, project: Project) -> dict[str, Any]:
    images = project.images
    gateway = _runtime_service(project, "gateway", images.gateway, "gateway.Dockerfile")
    gateway.update(
        environment=_runtime_env("docker"),
        ports=_port(project, "gateway"),
        volumes=["./config:/opt/esb/out/config:ro", "./secrets:/opt/esb/out/secrets:ro", "state:/opt/esb/out/state"],
        depends_on={"manager": {"condition": "service_started"}},
        healthcheck=_health(
            ["CMD", "python", "-c", f"import socket; socket.create_connection(('127.0.0.1', {CONTAINER_PORTS['gateway']}), 2)"]
        ),
    )
    manager = _runtime_service(project, "manager", images.manager, "manager.Dockerfile")
    manager.update(
        environment=_runtime_env("docker"),
        volumes=[
            "./config:/opt/esb/out/config:ro",
            "./functions:/opt/esb/out/functions:ro",
            "state:/opt/esb/out/state",
            # The manager is the only privileged part: it starts the function containers.
            "/var/run/docker.sock:/var/run/docker.sock",
        ],
        depends_on={name: {"condition": "service_healthy"} for name in ("dynamodb", "logs", "s3")},
    )
    services = {
        "gateway": gateway,
        "manager": manager,
        "s3": {
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
        },
        "dynamodb": {
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
        },
        "logs": {
            "image": images.logs,
            "command": ["-storageDataPath=/vlogs", f"-httpListenAddr=:{CONTAINER_PORTS['logs']}"],
            "ports": _port(project, "logs"),
            "volumes": ["logs-data:/vlogs"],
            "healthcheck": _health(["CMD-SHELL", f"wget -qO- http://127.0.0.1:{CONTAINER_PORTS['logs']}/health || exit 1"]),
        },
    }
    return {
        "services": services,
        "volumes": {name: {} for name in ("dynamodb-data", "logs-data", "s3-data", "state")},
    }


def _health(test: list[str], start: str = "10s") -> dict[str, Any]:
    return {"test": test, "interval": "5s", "timeout": "3s", "retries": 30, "start_period": start}


def render_compose(app: Application, project: Project) -> str:
    return render("docker-compose.yml.j2", source=app.template_path.name, document=compose_view(app, project))


def runtime_image_view(project: Project, role: str) -> dict[str, Any]:
    module = "esb_runtime.manager" if role == "manager" else "esb_runtime.gateway"
    return {"base_image": project.images.python, "packages": list(RUNTIME_PACKAGES), "role": role, "module": module}


def render_runtime_dockerfile(project: Project, role: str) -> str:
    return render(f"{role}.Dockerfile.j2", **runtime_image_view(project, role))
