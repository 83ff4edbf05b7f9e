"""Issue 13's must-hold list, checked by a spy function beside two victims and a busy sandbox of its own function
on a real box (process engine, root)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from boxkit import running_box
from esb.box.processes import wait_until
from esb.build.images import SDK_REQUIREMENT
from esb.paths import REPO
from tools import need_tool

pytestmark = pytest.mark.integration

SPY_SRC = REPO / "fixtures" / "spy" / "src"
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Timeout: 10
Resources:
  VictimA:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: victim-a
      Handler: app.victim
      Environment: {Variables: {VICTIM_SECRET: a-secret}}
  VictimB:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: victim-b
      Handler: app.victim
      Environment: {Variables: {VICTIM_SECRET: b-secret}}
  Spy:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: spy
      Handler: app.handler
      ReservedConcurrentExecutions: 2
"""


def spy_module() -> Any:
    spec = importlib.util.spec_from_file_location("spy_app", SPY_SRC / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project() -> Iterator[Path]:
    need_tool(os.geteuid() == 0, "sandboxes change identity only under a root manager (CI runs as root)")
    need_tool(shutil.which("iptables") is not None, "iptables is not installed (CI gets it with docker.io)")
    need_tool(os.path.exists("/usr/bin/python3"), "no system /usr/bin/python3 for the sandboxes")
    parent = Path(tempfile.mkdtemp(prefix="esb-spy-"))
    os.chmod(parent, 0o755)  # pytest's own tmp dirs are 0700: function identities could not reach the code
    project = parent / "spy"
    shutil.copytree(SPY_SRC, project / "src")
    (project / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    yield project
    shutil.rmtree(parent, ignore_errors=True)


def invoke(lam: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


def connect_as(uid: int, ports: list[int]) -> list[str]:
    """What a local user `uid` (not the box, not a function) gets connecting to each port."""
    code = ("import socket, sys\nfor p in sys.argv[1:]:\n try:\n  socket.create_connection(('127.0.0.1', int(p)), "
            "timeout=1).close(); print('reached')\n except OSError as e:\n  print(type(e).__name__)")
    done = subprocess.run(["/usr/bin/python3", "-c", code, *map(str, ports)], capture_output=True, text=True,
                          timeout=60, cwd="/", user=uid, group=uid, extra_groups=[])
    return done.stdout.split()


def test_a_spy_function_sees_nothing_of_the_others_nor_of_the_box(project: Path) -> None:
    out = project / ".esb"
    with running_box(project) as box:
        lam = box.boto3("lambda")
        victims = [invoke(lam, name, {}) for name in ("victim-a", "victim-b")]  # both stay warm beside the spy
        release = project.parent / "release"
        with ThreadPoolExecutor(1) as pool:  # a sibling spy kept busy: the spy's call starts a second sandbox
            held = pool.submit(invoke, lam, "spy", {"hold_until": str(release)})
            assert wait_until(lambda: len(spy_module().sandbox_listeners()) == 6, 30)
            spy = invoke(lam, "spy", {"out": str(out), "victim": "victim-a"})
            listeners = spy_module().sandbox_listeners()
            release.touch()
            sibling = held.result(timeout=30)
        outsider = connect_as(65534, [port for port, _ in listeners])
        status = box.refresh()
        chain_during = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    uids = {spy["uid"], sibling["uid"], *(victim["uid"] for victim in victims)}
    assert len(uids) == 4 and 0 not in uids  # one identity per sandbox, two of them the spy function's
    assert spy["others"] >= 3, spy  # the victims' and the sibling's processes were there to spy on
    assert sibling["own_api"] in spy["probed"]  # the sibling's runtime API (its events) was tried, and refused below
    assert spy["environ_read"] == 0 and spy["signalled"] == 0, spy
    assert spy["ports"] >= 5 and spy["reached"] == [] and spy["stolen"] == 0, spy
    assert spy["imports"] == {name: "ModuleNotFoundError" for name in ("moto", "yaml", "esb_runtime", "requests", "esb")}
    assert spy["boto3"] == SDK_REQUIREMENT.split("==")[1]
    assert all(spy[what] == "PermissionError" for what in ("data", "secrets", "state", "logs", "config", "victim_code")), spy
    assert not any(".venv" in path or "site-packages" in path for path in spy["sys_path"]), spy["sys_path"]
    assert spy["execution_env"] == "AWS_Lambda_python3.11"
    assert listeners and outsider == ["ConnectionRefusedError"] * len(listeners)  # any local user, not only functions
    assert not [note for note in status["notes"] if "function code runs as" in note or "RIE ports" in note]
    chain = next(line.split()[-1] for line in chain_during.splitlines() if line.startswith("-A OUTPUT") and "ESB-" in line)
    after = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    assert chain not in after  # `esb down` leaves no rule behind
