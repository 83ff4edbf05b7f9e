"""Start a real box (`esb up -d`) on a copy of a fixture app for end-to-end tests, and stop it after."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from esb.cli import main
from esb.paths import P


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Box:
    project: Path
    status: dict[str, Any]
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.status["gateway"]["url"]

    @property
    def ca_file(self) -> str:
        return self.status["gateway"]["ca_file"]

    def token(self) -> str:
        auth = self.status["auth"]
        answer = self.client.post(
            auth["auth_path"],
            headers={"x-api-key": auth["api_key"]},
            json={"AuthParameters": {"USERNAME": auth["username"], "PASSWORD": auth["password"]}},
        )
        answer.raise_for_status()
        return answer.json()["AuthenticationResult"]["IdToken"]

    def boto3(self, service: str) -> Any:
        import boto3

        aws = self.status["aws"]
        stores = self.status["stores"]  # the other services (SQS, SNS, ...) answer at the stores' endpoint too
        endpoint = aws["lambda_endpoint"] if service == "lambda" else stores.get(f"{service}_endpoint",
                                                                                 stores["s3_endpoint"])
        return boto3.client(
            service, endpoint_url=endpoint, region_name=aws["region"], verify=self.ca_file,
            aws_access_key_id=aws["access_key_id"], aws_secret_access_key=aws["secret_access_key"],
        )

    def refresh(self) -> dict[str, Any]:
        self.status = read_status(self.project)
        return self.status


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def esb(project: Path, *argv: str, env: dict[str, str] | None = None) -> int:
    """The CLI in-process, from the project directory, with `env` set for this call only."""
    cwd = Path.cwd()
    os.chdir(project)
    try:
        with _env(env or {}):
            return main(["-t", str(project / "template.yaml"), *argv])
    finally:
        os.chdir(cwd)


def read_status(project: Path) -> dict[str, Any]:
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert esb(project, "status", "--json") == 0
    return json.loads(buffer.getvalue())  # stdout is exactly one JSON document


def copy_app(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(P.fixtures / name, target, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    return target


def free_ports_env() -> dict[str, str]:
    """The box's listening ports on free ones: tests never take the documented defaults (8443, 4566)."""
    return {"ESB_GATEWAY_PORT": str(free_port()), "ESB_AWS_PORT": str(free_port())}


@contextlib.contextmanager
def running_box(project: Path, *extra: str, engine: str = "process",
                env: dict[str, str] | None = None) -> Iterator[Box]:
    """`esb up -d` in `project` on a free port; always `esb down` afterwards."""
    values = {**free_ports_env(), **(env or {})}
    with _env(values):
        code = esb(project, "up", "-d", "--engine", engine, *extra)
        try:
            assert code == 0, f"esb up failed with {code}"
            status = read_status(project)
            trust = ssl.create_default_context(cafile=status["gateway"]["ca_file"])
            with httpx.Client(base_url=status["gateway"]["url"], verify=trust,
                              timeout=30.0) as client:
                yield Box(project=project, status=status, client=client)
        finally:
            esb(project, "down")


@contextlib.contextmanager
def engine_box(app: str, engine: str, base_dir: Path) -> Iterator[Box]:
    """A fixture app (copied under base_dir) running on `engine`; docker: skipped without a daemon, and the
    function images it built are removed afterwards."""
    from tools import need_tool

    if engine == "docker":
        need_tool(docker_answers(), "no Docker daemon answers here, so the docker-engine run of these cases is skipped")
    project = copy_app(app, base_dir)
    try:
        with running_box(project, engine=engine) as running:
            assert running.status["engine"] == engine
            yield running
    finally:
        if engine == "docker":
            remove_images(project.name)


def docker_answers() -> bool:
    from esb.box import docker_box

    return docker_box.daemon_answers()


def remove_images(project: str) -> None:
    """The function images a docker-engine box of `project` built (`esb down` keeps images)."""
    import docker

    client = docker.from_env()
    try:
        for image in client.images.list():
            if any(tag.startswith(f"esb/{project}/") for tag in image.tags):
                client.images.remove(image.id, force=True)
    finally:
        client.close()


def eventually(check: Callable[[], Any], timeout_s: float) -> Any:
    """Poll `check` until it returns something truthy or the time is up; its last value."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def hello_version(box: Box) -> str | None:
    """The `version` GET /hello answers with (the watch tests' handlers), "original" for the sample's own."""
    answer = box.client.get("/hello")
    return answer.json().get("version", "original") if answer.status_code == 200 else None


def make_watcher(box: Box) -> tuple[Any, list[str]]:
    """A watcher on a running box, driven in-process; the lines it says are collected."""
    from esb.project import load_project
    from esb.build.context import build_context
    from esb.watch.loop import Watcher
    from esb.watch.link import RunningBox

    lines: list[str] = []
    ctx = build_context(load_project(str(box.project / "template.yaml"), cwd=box.project, env={}))
    return Watcher(ctx, box=RunningBox(ctx.tree), say=lines.append), lines


def processes_under(project: Path) -> list[int]:
    """PIDs whose working directory is inside the project (sandboxes run in their staged code dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == project or project in cwd.parents:
            found.append(int(entry.name))
    return found
