"""Broken request framing is the client's fault: 400, never a 500 with a traceback."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from falcon import testing
from esb_runtime.errors import MalformedRequest
from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import StaticConfigSource, build_config
from esb_runtime.gateway.fake_manager import FakeManager
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings
from fakes import functions_config

ROUTING = {"apis": {"RestApi": {"kind": "Api", "stage": "Prod", "cors": None}},
           "routes": [{"path": "/items", "method": "POST", "function": "echo", "event": "Api", "api": "RestApi",
                       "auth": False}]}
FUNCTIONS = {"project": "t", "region": "us-east-1", "account_id": "000000000000",
             "functions": {"echo": {"timeout": 3}}}


class BrokenInput(io.RawIOBase):
    """What the gateway's body reader (http1/reader.py) does on a bad chunk size line or a body cut short."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error


def client(tmp_path: Path, records: list[Any]) -> testing.TestClient:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    app = create_app(settings, routes_source=StaticConfigSource(build_config(ROUTING, functions_config(FUNCTIONS))),
                     manager=FakeManager({"echo": lambda event: {"statusCode": 200, "body": "ok"}}),
                     secrets=BoxSecrets.generate(), log_sink=records.append)
    return testing.TestClient(app)


def test_bad_chunk_size_is_400(tmp_path: Path) -> None:
    records: list[Any] = []
    result = client(tmp_path, records).simulate_post(
        "/items", headers={"Transfer-Encoding": "chunked"}, extras={"wsgi.input": BrokenInput(MalformedRequest("Invalid character in chunk size"))})
    assert result.status_code == 400 and "malformed" in result.json["message"]
    assert records[-1]["status"] == 400 and records[-1]["level"] == "info"


def test_body_cut_short_is_400(tmp_path: Path) -> None:
    result = client(tmp_path, []).simulate_post(
        "/items", headers={"Content-Length": "100"}, extras={"wsgi.input": BrokenInput(MalformedRequest("the request body ended early"))})
    assert result.status_code == 400
