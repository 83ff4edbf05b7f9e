"""The gateway as `esb up` runs it: the gevent worker + TLS, in front of a manager on a unix socket (its API and
lease socket) and a sandbox the gateway calls directly; as one process (esb_runtime.gateway.serve, one worker)
and under gunicorn's master (more workers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

from esb_runtime import secrets as box_secrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_document

pytestmark = pytest.mark.integration

FAKE_MANAGER = """
from gevent import monkey
monkey.patch_all()
import socket, sys
from gevent.pywsgi import WSGIServer
sys.path.insert(0, sys.argv[2])
from test_manager_client import fake_manager_app
import json, pathlib
from esb_runtime.manager.lease_protocol import Grant
from esb_runtime.manager.lease_server import make_lease_server

def rie(environ, start_response):  # a sandbox's RIE: the gateway calls it under a lease
    body = json.dumps({"result": json.loads(environ["wsgi.input"].read())}).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

sandbox = WSGIServer(("127.0.0.1", 0), rie, log=None, error_log=None)
sandbox.start()
url = f"http://127.0.0.1:{sandbox.server_port}/2015-03-31/functions/function/invocations"

class Leases:
    def grant(self, name, trace_id, wait=True):
        return Grant("sb-fake", url, 3)

    def release(self, sandbox_id, outcome):
        pass

    def recall_through(self, recall):
        pass

make_lease_server(Leases(), pathlib.Path(sys.argv[1]).with_name("leases.sock")).start()
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(128)
WSGIServer(listener, fake_manager_app([]), log=None, error_log=None).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


GATEWAY_COMMANDS = {
    "one process": [sys.executable, "-m", "esb_runtime.gateway.serve"],
    "gunicorn master": [sys.executable, "-m", "gunicorn", "-c", "python:esb_runtime.gateway.gunicorn_conf"],
}


@pytest.fixture(params=sorted(GATEWAY_COMMANDS))
def box(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, RuntimeSettings, subprocess.Popen[Any]]]:
    out = tmp_path / "out"
    (out / "config").mkdir(parents=True)
    (out / "state").mkdir()
    routing = {"apis": {"H": {"kind": "HttpApi", "stage": "$default", "cors": None}},
               "routes": [{"path": "/{proxy+}", "method": "ANY", "function": "hello", "event": "HttpApi", "api": "H",
                           "auth": False}]}
    (out / "config" / "routing.yml").write_text(yaml.safe_dump(routing))
    (out / "config" / "functions.yml").write_text(yaml.safe_dump(functions_document({"functions": {"hello": {"timeout": 3}}})))
    settings = RuntimeSettings(output_dir=out, manager_socket=out / "state" / "manager.sock", rie_path=None,
                               gateway_port=free_port())
    box_secrets.ensure(settings.secrets_file)
    env = {**os.environ, **settings.to_env()}
    manager = subprocess.Popen([sys.executable, "-c", FAKE_MANAGER, str(settings.manager_socket),
                                str(Path(__file__).parent)], env=env, start_new_session=True)
    gateway = subprocess.Popen(GATEWAY_COMMANDS[request.param],
                               env=env, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{settings.gateway_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                context = ssl.create_default_context(cafile=str(settings.tls_dir / "ca.pem"))
                # Ready once the gateway answers and sees the (fake) manager: both start at once.
                if httpx.get(f"{url}/health", verify=context, timeout=1).status_code == 200:
                    break
                raise OSError("manager not answering yet")
            except (httpx.HTTPError, OSError, ssl.SSLError):
                if gateway.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gateway did not start: {gateway.stderr.read().decode() if gateway.stderr else ''}")
                time.sleep(0.1)
        yield url, settings, gateway
    finally:
        stop(gateway)
        stop(manager)


def test_https_chain_through_gunicorn(box: tuple[str, RuntimeSettings, subprocess.Popen[Any]]) -> None:
    url, settings, _ = box
    context = ssl.create_default_context(cafile=str(settings.tls_dir / "ca.pem"))
    with httpx.Client(verify=context, base_url=url) as client:
        health = client.get("/health").json()
        result = client.get("/some/path", params={"q": "1"})
        missing_root = client.get("/")
    assert health["status"] == "healthy" and health["manager"]["status"] == "ok"
    assert result.status_code == 200
    event = result.json()["result"]  # the fake manager wraps the event it received
    assert event["rawPath"] == "/some/path" and event["queryStringParameters"] == {"q": "1"}
    assert event["headers"]["x-amzn-trace-id"] == result.headers["X-Amzn-Trace-Id"]
    assert missing_root.status_code == 404

    def logged() -> bool:
        records = [json.loads(line) for f in sorted(settings.logs_dir.glob("*.jsonl"))
                   for line in f.read_text().splitlines()]
        return any(r["source"] == "gateway" and r["path"] == "/some/path" and r["status"] == 200 for r in records)

    deadline = time.monotonic() + 5  # access records are shipped in batches, off the request path
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged()


def _raw_exchange(url: str, settings: RuntimeSettings, request: bytes) -> bytes:
    """Send `request` as written over TLS and read until the server closes (what an HTTP/1.0 client does)."""
    host, port = url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(settings.tls_dir / "ca.pem"))
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_http_1_0_client_gets_a_readable_response(box: tuple[str, RuntimeSettings, subprocess.Popen[Any]]) -> None:
    url, settings, _ = box
    # HTTP/1.0 clients may leave out Host, and read the body until the server closes.
    for request in (b"GET /some/path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", b"GET /some/path HTTP/1.0\r\n\r\n"):
        head, _, body = _raw_exchange(url, settings, request).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 "), head
        assert json.loads(body)["result"]["requestContext"]["http"]["protocol"] == "HTTP/1.0"
    posted = _raw_exchange(url, settings, b"POST /some/path HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
    assert posted.startswith(b"HTTP/1.0 200 ") and json.loads(posted.partition(b"\r\n\r\n")[2])["result"]["body"] == "abc"


def children(pid: int) -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _parent(int(entry)) == pid]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.parametrize("box", ["one process"], indirect=True)
def test_one_process_gateway_serves_alone_and_drains_on_sigterm(
        box: tuple[str, RuntimeSettings, subprocess.Popen[Any]]) -> None:
    url, settings, gateway = box
    assert children(gateway.pid) == []  # no master/worker pair; the TLS check's child is gone too
    context = ssl.create_default_context(cafile=str(settings.tls_dir / "ca.pem"))
    with httpx.Client(verify=context, base_url=url) as client:
        assert client.get("/some/path").status_code == 200
    os.kill(gateway.pid, signal.SIGTERM)
    assert gateway.wait(timeout=15) == 0  # graceful: stops accepting, finishes in-flight requests, exits 0
    assert b"Traceback" not in (gateway.stderr.read() if gateway.stderr else b"")
