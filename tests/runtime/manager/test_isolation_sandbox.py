"""Real RIE sandboxes run as `nobody` when the manager is root: the socket, the secrets and the manager are out of reach."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from esb_runtime import secrets as box_secrets
from esb_runtime.manager import isolation
from esb_runtime.manager.process_engine import ProcessEngine
from esb_runtime.manager.server import unix_listener
from esb_runtime.manager.service import Manager
from esb_runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration

if os.geteuid() != 0:
    print("test_isolation_sandbox: skipped, the test process is not root (CI runs as root)")
    pytestmark = [pytest.mark.integration,
                  pytest.mark.skip(reason="sandboxes change identity only under a root manager; not root here")]

HANDLER = """
import json, os, socket, tempfile, time

def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as exc:
        return type(exc).__name__

def connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)

def write_tmp():
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as handle:
        handle.write(b"x")

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
        "socket": attempt(lambda: connect(event["socket"])),
        "secrets": attempt(lambda: open(event["secrets"]).read()),
        "secrets_dir": attempt(lambda: os.listdir(os.path.dirname(event["secrets"]))),
        "manager_environ": attempt(lambda: open("/proc/%d/environ" % event["manager_pid"], "rb").read()),
        "signal_manager": attempt(lambda: os.kill(event["manager_pid"], 0)),
        "tmp_write": attempt(write_tmp),
        "home": os.path.expanduser("~"),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
"""

TRACE = "Root=1-5f84c7a1-0123456789abcdef01234567;Sampled=1"


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """An output tree nobody may traverse to (pytest's own tmp dirs are 0700), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="esb-isolation-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_box(tmp_path: Path, rie_path: Path, write_function: Callable[..., Path],
             write_functions_yml: Callable[..., Path]) -> Iterator[Callable[..., tuple[Manager, isolation.Plan]]]:
    made: list[tuple[Manager, socket.socket]] = []

    def make(functions: dict[str, dict[str, Any]] | None = None,
             extra_checks: tuple[Path, ...] = ()) -> tuple[Manager, isolation.Plan]:
        functions = functions or {"fn": {}}
        for name in functions:
            write_function(name, HANDLER)
        write_functions_yml(functions)
        out = tmp_path / ".esb"
        settings = RuntimeSettings(output_dir=out, manager_socket=out / "state" / "manager.sock", rie_path=rie_path)
        isolation.secure_dirs(settings.state_dir, settings.secrets_file.parent)
        secrets = box_secrets.ensure(settings.secrets_file)
        listener = unix_listener(settings.manager_socket)  # a live socket, as the real manager has
        engine = ProcessEngine(rie_path)
        plan = isolation.plan_sandboxes(out, rie_path, python=engine.python, runtime_parent=engine.runtime_parent,
                                        requested=None, extra_checks=extra_checks)
        engine.isolate(plan)
        manager = Manager(settings, engine, lambda records: None, secrets=secrets)
        made.append((manager, listener))
        return manager, plan

    yield make
    for manager, listener in made:
        manager.close()
        listener.close()


def probe_event(manager: Manager, **extra: Any) -> dict[str, Any]:
    settings = manager.settings
    return {"socket": str(settings.manager_socket), "secrets": str(settings.secrets_file),
            "manager_pid": os.getpid(), **extra}


def call(manager: Manager, event: dict[str, Any], **kwargs: Any) -> tuple[str, Any]:
    result = manager.invoke("fn", json.dumps(event).encode(), **kwargs)
    assert result is not None
    try:
        return result.outcome, json.loads(result.body)
    except ValueError:
        return result.outcome, result.body.decode()


def test_function_code_cannot_reach_the_socket_the_secrets_or_the_manager(make_box: Callable[..., Any]) -> None:
    manager, plan = make_box()
    assert plan.identity is not None and plan.note is None, plan
    outcome, body = call(manager, probe_event(manager), trace_id=TRACE)
    assert outcome == "ok", body
    assert body["uid"] != 0 and body["uid"] == plan.identity.uid and body["gid"] == plan.identity.gid
    assert body["groups"] in ([], [plan.identity.gid])
    assert body["socket"] == "PermissionError"
    assert body["secrets"] == "PermissionError" and body["secrets_dir"] == "PermissionError"
    assert body["manager_environ"] == "PermissionError" and body["signal_manager"] == "PermissionError"
    assert body["tmp_write"] == "allowed" and body["home"] == "/tmp"
    assert body["trace"] == TRACE
    assert not any("function code runs as" in note for note in manager.health()["notes"])


def test_private_dirs_and_the_socket_stay_closed(make_box: Callable[..., Any]) -> None:
    manager, plan = make_box()
    settings = manager.settings
    for path, mode in ((settings.state_dir, 0o700), (settings.secrets_file.parent, 0o700),
                       (settings.manager_socket, 0o600), (settings.secrets_file, 0o600), (plan.rie_path, 0o755)):
        st = path.stat()
        assert stat.S_IMODE(st.st_mode) == mode, path
        assert st.st_uid == os.geteuid()
    assert plan.rie_path == settings.output_dir / "bin" / "aws-lambda-rie"


def test_timeouts_still_recycle_an_isolated_sandbox(make_box: Callable[..., Any]) -> None:
    manager, plan = make_box({"fn": {"timeout": 1}})
    assert plan.identity is not None
    outcome, body = call(manager, probe_event(manager, sleep=3))
    assert outcome == "timeout" and "Task timed out after 1.00 seconds" in body
    outcome, body = call(manager, probe_event(manager))
    assert outcome == "ok" and body["uid"] == plan.identity.uid


def test_a_probe_failure_falls_back_to_root_with_a_note_and_still_serves(make_box: Callable[..., Any],
                                                                       tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    manager, plan = make_box(extra_checks=(closed,))
    assert plan.identity is None
    expected = f"function code runs as root and can reach the manager socket: move the project out of {closed} " \
               "or use --engine docker"
    assert plan.note == expected
    assert expected in manager.health()["notes"]
    outcome, body = call(manager, probe_event(manager), trace_id=TRACE)
    assert outcome == "ok", body
    assert body["uid"] == 0 and body["socket"] == "allowed"  # exactly what the note warns about
    assert body["trace"] == TRACE

