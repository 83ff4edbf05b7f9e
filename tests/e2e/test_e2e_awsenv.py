"""`esb env` on a real box: AWS tools with no arguments reach every emulated service at one stable endpoint."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import threading
from contextlib import redirect_stdout
from pathlib import Path
from typing import Iterator

import boto3
import botocore.exceptions
import pytest

from boxkit import Box, copy_app, esb, free_port, running_box

pytestmark = pytest.mark.integration

# What a user runs: the exports evaluated by a shell, then boto3 with no endpoint, keys, region or CA given.
LIST_BOTH = ("import boto3; print(sorted(b['Name'] for b in boto3.client('s3').list_buckets()['Buckets'])); "
             "print(boto3.client('dynamodb').list_tables()['TableNames'])")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("e2e", tmp_path_factory.mktemp("awsenv"))
    with running_box(project, env={"ESB_AWS_HTTP_PORT": str(free_port())}) as running:
        yield running


def _env_text(project: Path, *extra: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert esb(project, "env", *extra) == 0
    return out.getvalue()


def _eval_then_run(project: Path, script: str, *extra: str) -> list[str]:
    cli = f"{sys.executable} -m esb.cli -t {project / 'template.yaml'} env {' '.join(extra)}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ESB_"))}
    done = subprocess.run(["bash", "-c", f'eval "$({cli})" && {sys.executable} -c "{script}"'],
                          env=clean, cwd=project, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_eval_env_then_boto3_with_no_arguments(box: Box) -> None:
    buckets, tables = _eval_then_run(box.project, LIST_BOTH)
    assert "e2e-files-test" in buckets and "e2e-items-test" in tables
    text = _env_text(box.project)
    assert f"export AWS_CA_BUNDLE={box.ca_file}" in text.splitlines()
    assert f"export AWS_ENDPOINT_URL_LAMBDA={box.url}" in text.splitlines()


def test_plain_http_listener_needs_no_ca(box: Box) -> None:
    text = _env_text(box.project, "--http")
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in text and "AWS_CA_BUNDLE" not in text
    buckets, tables = _eval_then_run(box.project, LIST_BOTH, "--http")
    assert "e2e-files-test" in buckets and "e2e-items-test" in tables


def test_conventional_test_keys_get_a_403_naming_the_keys_to_use(box: Box) -> None:
    endpoint = next(line.split("=", 1)[1] for line in _env_text(box.project).splitlines()
                    if line.startswith("export AWS_ENDPOINT_URL="))
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", verify=box.ca_file,
                      aws_access_key_id="test", aws_secret_access_key="test")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        s3.list_buckets()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidAccessKeyId"
    assert "'test'" in str(caught.value) and box.status["aws"]["access_key_id"] in str(caught.value)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", verify=box.ca_file,
                            aws_access_key_id="test", aws_secret_access_key="test")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        dynamodb.list_tables()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert "`eval \"$(esb env)\"`" in str(caught.value)


@contextlib.contextmanager
def _listening_daemon(path: Path) -> Iterator[list[str]]:
    """A unix socket where a docker daemon would be; what connects to it is recorded (and gets no answer)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(0.1)
    connections: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append("connected")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield connections
    finally:
        stop.set()
        thread.join()
        server.close()


def _port(text: str, name: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith(f"export {name}="))
    return line.rsplit(":", 1)[1]


def test_same_endpoint_after_down_and_up(box: Box) -> None:
    before, before_http = _env_text(box.project), _env_text(box.project, "--http")
    assert esb(box.project, "down") == 0
    assert esb(box.project, "env") == 3  # no box: exit 3, as status
    # The same settings as the first up (the autouse fixture cleared this module's ESB_* variables per test).
    ports = {"ESB_GATEWAY_PORT": _port(before, "AWS_ENDPOINT_URL_LAMBDA"), "ESB_AWS_PORT": _port(before, "AWS_ENDPOINT_URL"),
             "ESB_AWS_HTTP_PORT": _port(before_http, "AWS_ENDPOINT_URL")}
    # The engine recorded in generator.yml: no --engine, and a daemon present that must never be asked.
    (box.project / "generator.yml").write_text("engine: process\n")
    with _listening_daemon(box.project / "docker.sock") as connections:
        assert esb(box.project, "up", "-d", env={**ports, "DOCKER_HOST": f"unix://{box.project / 'docker.sock'}"}) == 0
    assert connections == []
    assert _env_text(box.project) == before
    buckets, _ = _eval_then_run(box.project, LIST_BOTH)
    assert "e2e-files-test" in buckets
