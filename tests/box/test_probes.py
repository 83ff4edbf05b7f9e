"""esb.box.probes: readiness probes as recorded strings, checked against real listeners on loopback."""

from __future__ import annotations

import socket

from esb.box import probes


def test_tcp_probe_is_ready_only_when_every_port_listens() -> None:
    with socket.socket() as one, socket.socket() as closed:
        one.bind(("127.0.0.1", 0))
        one.listen()
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        up, down = one.getsockname()[1], closed.getsockname()[1]
        assert probes.check(probes.tcp("127.0.0.1", [up]))
        assert not probes.check(probes.tcp("127.0.0.1", [up, down]), timeout_s=0.5)


def test_an_empty_probe_is_ready_and_an_http_probe_without_a_server_is_not() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        assert probes.check("")
        assert not probes.check(probes.http(f"http://127.0.0.1:{port}/health"), timeout_s=0.5)
