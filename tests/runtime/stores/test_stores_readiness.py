"""The stores' readiness answer: `GET /_esb/health?wait=S` is held until the data is restored (how `esb up` learns
the moment the stores are ready without polling them while they restore)."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from esb_runtime.secrets import ensure
from esb_runtime.stores.auth import MAX_HEALTH_WAIT_S, AuthMiddleware, health_wait


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(app: Any, query: str = "") -> str:
    """The status line `app` answers GET /_esb/health?<query> with."""
    answered: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/_esb/health", "QUERY_STRING": query,
               "wsgi.input": io.BytesIO()}
    b"".join(app(environ, lambda status, headers: answered.append(status)))
    return answered[0]


@pytest.mark.parametrize(("query", "seconds"), [
    ("", 0.0), ("wait=0.5", 0.5), ("x=1&wait=1", 1.0), ("wait=-3", 0.0), ("wait=nope", 0.0),
    ("wait=3600", MAX_HEALTH_WAIT_S),
])
def test_health_wait_is_read_from_the_query_and_bounded(query: str, seconds: float) -> None:
    assert health_wait(query) == seconds


def test_the_middleware_hands_the_wait_to_the_health_answer() -> None:
    asked: list[float] = []

    def health(wait_s: float) -> dict:
        asked.append(wait_s)
        return {"status": "restoring"}

    middleware = AuthMiddleware(lambda environ, start: [], None, health)
    assert _get(middleware, "wait=0.25").startswith("503")
    assert _get(middleware).startswith("503")
    assert asked == [0.25, 0.0]


@pytest.mark.integration
def test_a_held_health_request_is_answered_ok_once_the_data_is_restored(tmp_path: Path) -> None:
    from esb_runtime.stores.auth import Credentials
    from esb_runtime.stores.server import StoresServer
    from esb_runtime.stores.settings import StoresSettings

    secrets = ensure(tmp_path / "secrets" / "box.json")
    settings = StoresSettings(data_dir=tmp_path / "data", secrets_file=tmp_path / "secrets" / "box.json",
                              port=_free_port(), snapshot_interval_s=0.05)
    server = StoresServer(settings, Credentials(secrets.aws_access_key_id, secrets.aws_secret_access_key),
                          log=lambda text: None)
    assert _get(server.app).startswith("503")  # not restored yet: a plain probe is told so at once
    held: list[str] = []
    asked = threading.Event()
    answer = server.app.health
    server.app.health = lambda wait_s: (asked.set(), answer(wait_s))[1]  # to know the request is in before start
    waiter = threading.Thread(target=lambda: held.append(_get(server.app, "wait=2")))
    waiter.start()
    stopper = threading.Thread(target=server.run_until_stopped)
    try:
        assert asked.wait(5)
        server.start()
        waiter.join(5)
        assert held == ["200 OK"]
    finally:
        stopper.start()
        server.stop()
        stopper.join(10)
