"""What the box's long-running processes leave unloaded until they need it (issue 14: idle memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from esb.box.launch import _gateway_argv
from esb.box.supervisor import probe_ready
from esb_runtime import secrets as box_secrets
from esb_runtime.settings import RuntimeSettings

LOADED = """
import json, sys, importlib
for name in sys.argv[1].split(","):
    importlib.import_module(name)
exec(sys.argv[2])
print(json.dumps(sorted(m for m in sys.argv[3].split(",") if m in sys.modules)))
"""


def loaded(modules: str, then: str, watched: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", LOADED, modules, then, watched], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def test_supervisor_loads_no_http_or_tls_client_nor_log_store_until_a_restart() -> None:
    watched = "http.client,ssl,hashlib,email.parser,esb.box.probes,subprocess,socket,esb_runtime.logs.factory"
    # What its main() imports before it supervises: the settings (the log store waits for a line to record).
    started = "import esb_runtime.settings"
    assert loaded("esb.box.supervisor", started, watched) == []
    restarted = started + "; from esb.box.supervisor import probe_ready; probe_ready('')"
    assert {"esb.box.probes", "http.client"} <= set(loaded("esb.box.supervisor", restarted, watched))


def test_supervisor_opens_the_log_store_with_its_first_line(tmp_path: Path) -> None:
    from esb.box.supervisor import _logger

    settings = RuntimeSettings(output_dir=tmp_path / "out", manager_socket=tmp_path / "m.sock", rie_path=None)
    say = _logger(settings)
    assert not settings.logs_dir.exists() or not any(settings.logs_dir.iterdir())
    say("warn", "manager (pid 7) killed by SIGKILL; restarting it in 0.0 s")
    lines = [json.loads(line) for f in settings.logs_dir.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert [(r["source"], r["level"], r["message"][:7]) for r in lines] == [("supervisor", "warn", "manager")]


def test_probe_ready_asks_the_probes() -> None:
    assert probe_ready("") is True  # an empty probe: ready as soon as it runs
    assert probe_ready("tcp:127.0.0.1:1") is False


def test_manager_event_sources_load_boto3_with_the_first_client() -> None:
    make = "from esb_runtime.sources.runner import stores_client_factory as f; c = f('http://127.0.0.1:1', 'us-east-1', 'a', 'b')"
    assert loaded("esb_runtime.sources.runner", make, "boto3,botocore") == []
    assert loaded("esb_runtime.sources.runner", make + "; c('sqs')", "boto3,botocore") == ["boto3", "botocore"]


def test_gateway_loads_no_jwt_or_cryptography_until_a_token(tmp_path: Path) -> None:
    settings = RuntimeSettings(output_dir=tmp_path / "out", manager_socket=tmp_path / "manager.sock", rie_path=None)
    box_secrets.ensure(settings.secrets_file)
    # As serve.main starts: gunicorn's settings (the TLS files are checked apart), then the app.
    start = "from esb_runtime.gateway.serve import GatewayApplication; GatewayApplication().wsgi()"
    env = {**os.environ, **settings.to_env()}
    out = subprocess.run([sys.executable, "-c", LOADED, "esb_runtime.gateway.serve", start, "jwt,cryptography"],
                         capture_output=True, text=True, check=True, env=env).stdout
    assert json.loads(out) == []
    assert (settings.tls_dir / "server.pem").is_file()


def test_one_gateway_worker_runs_without_gunicorns_master() -> None:
    assert _gateway_argv("py", 1) == ["py", "-m", "esb_runtime.gateway.serve"]
    assert _gateway_argv("py", 2)[:3] == ["py", "-m", "gunicorn"]
