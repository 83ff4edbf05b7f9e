"""`esb invoke` and `esb generate-event` with the genuine RIE, with and without a running box; a REST API's
BinaryMediaTypes and stage variables through real HTTPS."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Iterator

import pytest

from boxkit import Box, copy_app, esb, running_box

pytestmark = pytest.mark.integration

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_app("invoke", tmp_path_factory.mktemp("invoke"))


def _call(project: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = esb(project, *argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_invoke_prints_the_result_and_the_log(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "event.json").write_text('{"hello": "world"}')
    code, out, err = _call(project, capsys, "invoke", "dev-echo", "-e", "event.json")
    assert code == 0, err
    assert json.loads(out) == {"event": {"hello": "world"}, "greeting": "hello", "color": "plain",
                               "function": "dev-echo", "box_importable": False}
    lines = err.splitlines()
    assert any(line.startswith("START RequestId: ") for line in lines)
    assert "echo called" in lines
    assert any(line.startswith("REPORT RequestId: ") for line in lines)


def test_function_error_exits_non_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _call(project, capsys, "invoke", "FailFunction")
    assert code == 1
    error = json.loads(out)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "this function always fails")
    assert "error: the function ended with error" in err


def test_generated_event_piped_into_invoke(project: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    code, event, _ = _call(project, capsys, "generate-event", "sqs", "receive-message", "--body", "job 7")
    assert code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(event))
    code, out, err = _call(project, capsys, "invoke", "consumer", "-e", "-")
    assert code == 0, err
    assert json.loads(out) == {"batchItemFailures": [], "bodies": ["job 7"]}
    assert "consumed 1 message(s)" in err


def test_env_vars_and_parameter_overrides_change_this_call_only(project: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "env.json").write_text('{"EchoFunction": {"COLOR": "red"}}')
    code, out, err = _call(project, capsys, "invoke", "dev-echo", "--env-vars", "env.json",
                           "--parameter-overrides", "ParameterKey=Greeting,ParameterValue=bonjour")
    assert code == 0, err
    assert (json.loads(out)["greeting"], json.loads(out)["color"]) == ("bonjour", "red")
    code, out, _ = _call(project, capsys, "invoke", "dev-echo")
    assert (json.loads(out)["greeting"], json.loads(out)["color"]) == ("hello", "plain")  # the build is unchanged


@pytest.fixture(scope="module")
def box(project: Path) -> Iterator[Box]:
    with running_box(project) as running:
        yield running


def _auth(box: Box) -> dict[str, str]:
    # Routes without an authorizer are open once the template decides auth (issue 16, item 1); until then the
    # box token opens them, and an open route ignores it.
    return {"Authorization": f"Bearer {box.token()}"} if "auth" in box.status else {}


def test_invoke_goes_through_a_running_box(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _call(box.project, capsys, "invoke", "dev-echo")
    assert code == 0, err
    assert json.loads(out)["function"] == "dev-echo"
    assert "note: no box running" not in err and "echo called" in err
    sandboxes = {s["function"] for s in json.loads(_call(box.project, capsys, "status", "--json")[1])["sandboxes"]}
    assert "dev-echo" in sandboxes  # the box's own pool served it


def test_rest_binary_media_type_returns_png_bytes(box: Box) -> None:
    answer = box.client.get("/picture", headers={"Accept": "image/png", **_auth(box)})
    assert answer.status_code == 200, answer.text
    assert (answer.headers["content-type"], answer.content) == ("image/png", PNG)


def test_rest_binary_request_is_base64_and_stage_variables_arrive(box: Box) -> None:
    answer = box.client.post("/picture", content=PNG, headers={"Content-Type": "image/png", **_auth(box)})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"isBase64Encoded": True, "size": len(PNG), "png": True,
                             "stageVariables": {"Shade": "blue"}}


def _dap_attach(port: int, timeout_s: float = 20.0) -> list[str]:
    """A minimal debugger: connect, initialize, attach, configurationDone; the messages seen, by name."""
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)
    conn.settimeout(timeout_s)
    stream = conn.makefile("rb")

    def send(seq: int, command: str, **arguments: object) -> None:
        body = json.dumps({"seq": seq, "type": "request", "command": command, "arguments": arguments}).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    seen: list[str] = []
    send(1, "initialize", adapterID="esb-test", clientID="esb-test")
    send(2, "attach", justMyCode=False)
    with conn, stream:
        while "response:attach" not in seen:
            length = int(stream.readline().split(b":")[1])
            stream.readline()
            message = json.loads(stream.read(length))
            seen.append(f"{message['type']}:{message.get('command') or message.get('event')}")
            if message.get("event") == "initialized":
                send(3, "configurationDone")
    return seen


def test_debug_port_waits_for_a_debugger_then_runs(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    from boxkit import free_port
    from tools import need_tool

    need_tool(importlib_find("debugpy"), "debugpy is not installed (pip install debugpy), so -d is not run here")
    port, codes = free_port(), []
    caller = threading.Thread(target=lambda: codes.append(esb(project, "invoke", "dev-echo", "-d", str(port))))
    caller.start()
    try:
        seen = _dap_attach(port)
    finally:
        caller.join(60)
    out, err = capsys.readouterr()
    assert "event:initialized" in seen and "response:attach" in seen
    assert codes == [0], err
    result = json.loads(out)
    assert result["function"] == "dev-echo"
    assert result["box_importable"] is False  # the Lambda environment plus debugpy, not the box's interpreter
    assert f"debugpy listens on 127.0.0.1:{port}" in err


def importlib_find(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
