"""Small stand-ins for foreign clients, shared by the unit tests that need them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

from esb_runtime.config import FunctionsConfig, functions_from_document


class _BridgeNetworks:
    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs

    def get(self, name: str) -> "_BridgeNetworks":
        assert name == "bridge"
        return self


class BridgeClient:
    """A docker client whose only network is the default bridge, inspected as `attrs`."""

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.networks = _BridgeNetworks(attrs)


def functions_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A complete functions.yml document from a test's partial one: each entry gets a handler and a code dir."""
    entries = {name: {"handler": "app.handler", "code_dir": f"functions/{name}", **(entry or {})}
               for name, entry in (doc.get("functions") or {}).items()}
    return {**doc, "functions": entries}


def functions_config(doc: Mapping[str, Any]) -> FunctionsConfig:
    """The parsed functions.yml of a test's partial document."""
    return functions_from_document(functions_document(doc), Path("/out"))


class FakeVictoriaLogs:
    """VictoriaLogs' insert and LogsQL query endpoints on loopback, checking the wire format; rows as it stores them."""

    def __init__(self) -> None:
        self.inserts: list[dict] = []  # {"params", "content_type", "lines"}
        self.queries: list[dict] = []
        self.rows: list[dict] = []
        self.fail = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if fake.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                if url.path == "/insert/jsonline":
                    lines = [json.loads(line) for line in body.splitlines() if line]
                    fake.inserts.append({"params": parse_qs(url.query), "content_type": self.headers["Content-Type"],
                                         "lines": lines})
                    for line in lines:  # what VictoriaLogs stores: message -> _msg, time -> _time
                        row = {k: v for k, v in line.items() if k not in ("message", "time")}
                        row.update(_msg=line["message"], _time=line["time"][:-5] + ".123456Z", _stream="{}")
                        fake.rows.append(row)
                    self.send_response(200)
                    self.end_headers()
                elif url.path == "/select/logsql/query":
                    form = parse_qs(body)
                    fake.queries.append(form)
                    out = "".join(json.dumps(r) + "\n" for r in fake.rows).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                else:
                    self.send_response(404)
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
