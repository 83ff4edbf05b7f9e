"""A real box (process engine) under a few bounded hostile probes: junk handshakes, bad framing, swapped payloads."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Iterator

import pytest

from boxkit import Box, copy_app, running_box

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("e2e", tmp_path_factory.mktemp("hostile"))
    with running_box(project) as running:
        yield running


def port_of(box: Box) -> int:
    return int(box.url.rsplit(":", 1)[1].split("/")[0])


def test_junk_handshakes_leave_one_line_per_source(box: Box) -> None:
    log = box.project / ".esb" / "logs" / "gateway.out"
    before = log.read_text()
    for _ in range(100):
        with socket.create_connection(("127.0.0.1", port_of(box)), source_address=("127.0.0.5", 0)) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05junk-junk\r\n\r\n")
    time.sleep(1.0)
    added = log.read_text()[len(before):]
    assert "Traceback" not in added
    assert 1 <= added.count("TLS handshake failed") <= 4  # one per worker and minute, not one per attempt


def test_bad_chunk_size_is_400(box: Box) -> None:
    context = ssl.create_default_context(cafile=box.ca_file)
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port_of(box)), timeout=10),
                             server_hostname="127.0.0.1") as sock:
        sock.sendall(b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 400")


def test_idle_connections_from_one_host_do_not_starve_another(box: Box) -> None:
    idle = [socket.create_connection(("127.0.0.1", port_of(box)), source_address=("127.0.0.6", 0))
            for _ in range(300)]
    try:
        assert [box.client.get("/echo/legit").status_code for _ in range(5)] == [200] * 5
    finally:
        for sock in idle:
            sock.close()


def test_boto3_invoke_still_works(box: Box) -> None:
    answer = box.boto3("lambda").invoke(FunctionName="e2e-echo", Payload=b'{"a": 1}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
