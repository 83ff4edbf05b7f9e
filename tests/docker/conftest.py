"""Docker test fixtures: a reachable daemon (started here as root when none answers), the base image once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

docker = pytest.importorskip("docker")

from esb.build.images import BASE_ALIAS, BaseImage, build_function_image, ensure_base_image, function_image_tag  # noqa: E402
from esb.paths import cache_dir  # noqa: E402
from tools import need_tool  # noqa: E402

HANDLER_CODE = '''import json, os, sys

def handler(event, context):
    print("handler saw", json.dumps(event))
    return {"echo": event, "task_root": os.environ.get("LAMBDA_TASK_ROOT"), "cwd": os.getcwd(),
            "memory": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "custom": os.environ.get("CUSTOM"),
            "layer": __import__("shared").VALUE, "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "log_level": os.environ.get("LOG_LEVEL"), "rie_level_var": os.environ.get("ESB_RIE_LOG_LEVEL"),
            "gomaxprocs": os.environ.get("GOMAXPROCS")}
'''


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever needs the daemon is a docker test, so `-m "not docker"` still runs the pure ones here.
    for item in items:
        if "docker_daemon" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


def _ping() -> bool:
    try:
        docker.from_env(timeout=5).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no daemon"
        return False


def _pid_alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A daemon that answers; as root with docker.io installed, start one for the session."""
    if _ping():
        yield
        return
    reason = None
    if os.environ.get("DOCKER_HOST"):
        reason = f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer"
    elif os.geteuid() != 0 or shutil.which("dockerd") is None:
        reason = "no docker daemon reachable and cannot start one (needs root + docker.io: .ci/docker-setup.sh)"
    elif _pid_alive(Path("/var/run/docker.pid")):
        reason = "a dockerd is running but does not answer (see its log); not starting a second one"
    if reason:
        print(f"\nSKIP docker tests: {reason}")
        need_tool(False, reason)
    log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _ping() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    if not _ping():
        proc.kill()
        pytest.fail(f"dockerd did not answer within 60 s; see {log}")
    yield
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def docker_client(docker_daemon: None) -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=120)
    yield client
    client.close()


@pytest.fixture(scope="session")
def rie_path() -> Path:
    from esb.build.rie import ensure_rie

    return ensure_rie(cache_dir())


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient, rie_path: Path) -> BaseImage:
    """Built once per session; the rootfs tarball and wheels are cached under esb.paths.cache_dir()."""
    return ensure_base_image(docker_client, cache_dir(), rie_path=rie_path)


def write_function_context(root: Path, handler_code: str = HANDLER_CODE, base: str = BASE_ALIAS) -> Path:
    """A function build context shaped like the rendered one: src/, deps/, layers/<L>/python/."""
    (root / "src").mkdir(parents=True)
    (root / "deps").mkdir()
    (root / "layers" / "Shared" / "python").mkdir(parents=True)
    (root / "src" / "app.py").write_text(handler_code)
    (root / "layers" / "Shared" / "python" / "shared.py").write_text("VALUE = 'from-layer'\n")
    (root / "Dockerfile").write_text(
        f"FROM {base}\nCOPY layers/Shared/ /opt/\nCOPY deps/ /var/task/\nCOPY src/ /var/task/\n"
        'CMD ["app.handler"]\n'
    )
    return root


@pytest.fixture(scope="session")
def function_image(docker_client: docker.DockerClient, base_image: BaseImage,
                   tmp_path_factory: pytest.TempPathFactory) -> str:
    ctx = write_function_context(tmp_path_factory.mktemp("fnctx"))
    tag = function_image_tag("esbtest", "echo", ctx, docker_client)
    build_function_image(docker_client, ctx, tag)
    return tag


@pytest.fixture
def project(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique project id; its containers and network are removed after the test."""
    from esb_runtime.manager.docker_engine import remove_project

    name = f"esbtest-{uuid.uuid4().hex[:8]}"
    yield name
    remove_project(name, client_factory=lambda: docker_client)


@pytest.fixture
def make_context(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: a fresh function build context under tmp_path."""
    counter = iter(range(1000))
    return lambda: write_function_context(tmp_path / f"ctx{next(counter)}")

