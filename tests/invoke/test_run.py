"""`esb invoke`'s parts without a sandbox: function choice, event input, the sandbox spec, results, log relay."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import pytest

from esb.box.state import BoxState
from esb.build.context import load_application
from esb.cli import main
from esb.errors import BoxError, ConfigError
from esb.invoke import run
from esb.paths import P, BuildTree
from esb.project import load_project
from esb_runtime.gateway.manager_client import InvokeResult
from esb_runtime.manager.process_engine import ProcessEngine
from esb_runtime.engine import SandboxSpec


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The invoke fixture app, built once (functions.yml and staged code; no RIE needed)."""
    project = tmp_path_factory.mktemp("invoke") / "invoke"
    shutil.copytree(P.fixtures / "invoke", project)
    assert main(["-t", str(project / "template.yaml"), "build"]) == 0
    return project


def _app(project: Path):
    return load_application(load_project(str(project / "template.yaml"), cwd=project, env={}))


def test_function_by_logical_id_or_name(built: Path) -> None:
    app = _app(built)
    assert run.pick_function(app, "EchoFunction").name == "dev-echo"
    assert run.pick_function(app, "dev-echo").logical_id == "EchoFunction"
    with pytest.raises(ConfigError, match="no function 'nope'.*EchoFunction \\(dev-echo\\)"):
        run.pick_function(app, "nope")
    with pytest.raises(ConfigError, match="which function"):
        run.pick_function(app, None)


def test_event_from_file_stdin_or_empty(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text('{"k": 1}')
    assert run.read_event("e.json", io.StringIO(""), tmp_path) == b'{"k": 1}'
    assert run.read_event("-", io.StringIO('{"s": 2}'), tmp_path) == b'{"s": 2}'
    assert run.read_event(None, io.StringIO("ignored"), tmp_path) == b"{}"
    with pytest.raises(ConfigError, match="not JSON"):
        run.read_event("-", io.StringIO("{nope"), tmp_path)
    with pytest.raises(ConfigError, match="cannot read the event"):
        run.read_event("missing.json", io.StringIO(""), tmp_path)


def test_debug_needs_debugpy() -> None:
    with pytest.raises(ConfigError, match="pip install debugpy"):
        run.need_debugpy(find=lambda name: None)
    run.need_debugpy(find=lambda name: object())  # present: nothing said


def _state(built: Path) -> BoxState:
    return BoxState(project="invoke", engine="process", gateway_url="https://127.0.0.1:1", ca_file="",
                    s3_endpoint="http://127.0.0.1:4566", dynamodb_endpoint="http://127.0.0.1:4566",
                    lambda_endpoint="https://127.0.0.1:8443", region="us-east-1", started_at=0.0)


def test_spec_without_a_box_cannot_reach_aws(built: Path) -> None:
    fn = _app(built).function("EchoFunction")
    spec = run.sandbox_spec(BuildTree(built / ".esb"), fn, environment=None, state=None, rie_path=Path("/rie"),
                            debug_port=None)
    env = spec.environment
    assert env["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL_S3"] == run.NO_STORES_ENDPOINT
    assert (env["GREETING"], env["AWS_LAMBDA_FUNCTION_NAME"], spec.timeout_s, spec.debug_port) == \
        ("hello", "dev-echo", 5, None)


def test_spec_with_a_box_uses_its_stores_and_this_calls_environment(built: Path) -> None:
    fn = _app(built).function("EchoFunction")
    spec = run.sandbox_spec(BuildTree(built / ".esb"), fn, environment={"GREETING": "hi", "COLOR": "red"},
                            state=_state(built), rie_path=Path("/rie"), debug_port=5890)
    env = spec.environment
    assert env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4566" and "AWS_ENDPOINT_URL" not in env
    assert (env["GREETING"], env["COLOR"]) == ("hi", "red")
    # Stopped at a breakpoint, the function must not time out.
    assert (spec.debug_port, spec.timeout_s, env["AWS_LAMBDA_FUNCTION_TIMEOUT"]) == (5890, 3600, "3600")


def test_spec_of_an_unbuilt_function_says_build(tmp_path: Path, built: Path) -> None:
    shutil.copytree(built / ".esb" / "config", tmp_path / "config")
    (tmp_path / "config" / "functions.yml").write_text("functions: {}\n")
    with pytest.raises(BoxError, match="esb build"):
        run.sandbox_spec(BuildTree(tmp_path), _app(built).function("EchoFunction"), environment=None, state=None,
                         rie_path=Path("/rie"), debug_port=None)


def test_debug_port_puts_debugpy_in_front_of_the_runtime(tmp_path: Path) -> None:
    spec = SandboxSpec(function="f", config_hash="h", handler="app.h", runtime="python3.11", code_dir=tmp_path,
                       deps_dir=None, layer_dirs=(), environment={}, memory_mb=128, timeout_s=3, debug_port=5890)
    command = ProcessEngine(Path("/rie"), python="/py")._runtime_command(spec)
    assert command == ["/py", "-Xfrozen_modules=off", "-m", "debugpy", "--listen", "127.0.0.1:5890", "--wait-for-client",
                       "-m", "esb_runtime.sandbox.bootstrap", "app.h"]
    from esb_runtime.errors import EngineError

    with pytest.raises(EngineError, match="Python functions"):
        ProcessEngine(Path("/rie"))._runtime_command(SandboxSpec(**{**spec.__dict__, "runtime": "nodejs20.x"}))


def test_results_go_to_stdout_and_set_the_exit_code() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run.exit_code(run.Result("ok", b'{"a": 1}'), out, err) == 0
    assert (out.getvalue(), err.getvalue()) == ('{"a": 1}\n', "")
    out, err = io.StringIO(), io.StringIO()
    assert run.exit_code(run.Result("error", b'{"errorMessage": "x"}'), out, err) == 1
    assert out.getvalue() == '{"errorMessage": "x"}\n' and err.getvalue() == "error: the function ended with error\n"


def test_log_relay_leaves_out_rie_info_and_notices_report() -> None:
    log = io.StringIO()
    relay = run._LogRelay(log)
    for line in ("29 Nov 2026 21:39:37,314 [INFO] (rapid) exec 'python'", "START RequestId: r Version: $LATEST",
                 "printed", "29 Nov 2026 21:39:37,314 [WARNING] (rapid) odd", "REPORT RequestId: r\tDuration: 1 ms"):
        relay(line)
    assert log.getvalue().splitlines() == ["START RequestId: r Version: $LATEST", "printed",
                                           "29 Nov 2026 21:39:37,314 [WARNING] (rapid) odd",
                                           "REPORT RequestId: r\tDuration: 1 ms"]
    assert relay.reported.is_set()


class _Manager:
    def __init__(self, answer: InvokeResult | Exception) -> None:
        self.answer, self.calls, self.closed = answer, [], False

    def invoke(self, function: str, payload: bytes, **kwargs: object) -> InvokeResult:
        self.calls.append((function, payload, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def close(self) -> None:
        self.closed = True


def test_via_manager_prints_the_log_tail(built: Path) -> None:
    tail = base64.b64encode(b"START RequestId: r\necho called\n").decode()
    manager = _Manager(InvokeResult(200, "error", "r", b'{"errorType": "E"}', log_tail=tail))
    log = io.StringIO()
    result = run.invoke_via_manager(BuildTree(built / ".esb"), "dev-echo", b"{}", log, trace_id="Root=1-a-b",
                                    client=manager)
    assert result == run.Result("error", b'{"errorType": "E"}')
    assert log.getvalue() == "START RequestId: r\necho called\n"
    assert manager.calls == [("dev-echo", b"{}", {"trace_id": "Root=1-a-b", "log_tail": True})] and manager.closed


def test_via_manager_refusal_is_one_line(built: Path) -> None:
    from esb_runtime.errors import TooManyRequests

    with pytest.raises(BoxError, match="refused the call"):
        run.invoke_via_manager(BuildTree(built / ".esb"), "dev-echo", b"{}", io.StringIO(), trace_id="t",
                               client=_Manager(TooManyRequests("busy")))


def test_a_debug_session_gets_the_overlay_of_the_functions_own_environment(tmp_path: Path) -> None:
    from esb_runtime.contract import PythonRecord, write_python_record

    spec = SandboxSpec(function="f", config_hash="h", handler="app.h", runtime="python3.12", code_dir=tmp_path,
                       deps_dir=None, layer_dirs=(), environment={}, memory_mb=128, timeout_s=3, debug_port=5890,
                       runtime_dir=tmp_path / "runtimes" / "python3.12")
    (tmp_path / "runtimes" / "python3.12").mkdir(parents=True)
    write_python_record(tmp_path / "runtimes" / "python3.12",
                        PythonRecord(python="/usr/bin/python3.13", version="3.13", runtime="python3.12", note=None))
    asked: list[object] = []

    def overlay(cache: Path, interpreter: object) -> Path:
        asked.append(interpreter)
        return cache / "overlay"

    debug = run.with_debugger(spec, tmp_path / "cache", overlay, find=lambda name: None)  # no debugpy in the box
    assert debug.debug_site == tmp_path / "cache" / "overlay"
    assert [(i.path, i.version) for i in asked] == [("/usr/bin/python3.13", "3.13")]  # type: ignore[attr-defined]
    older = SandboxSpec(**{**spec.__dict__, "runtime_dir": None})  # a tree without a Lambda environment
    assert run.with_debugger(older, tmp_path, overlay, find=lambda name: object()) == older
    with pytest.raises(ConfigError, match="pip install debugpy"):
        run.with_debugger(older, tmp_path, overlay, find=lambda name: None)
