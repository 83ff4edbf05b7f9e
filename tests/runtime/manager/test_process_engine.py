"""The process engine alone: start, environment isolation, output draining, stop of the whole session."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

from esb_runtime import procfs
from esb_runtime.contract import RIE_GO_ENV
from esb_runtime.engine import SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager.cgroups import MemoryLimiter
from esb_runtime.manager.process_engine import ProcessEngine, kill_session, session_pids
from esb_runtime.manager.registry import SandboxRegistry

pytestmark = pytest.mark.integration

SOURCE = """
import os, subprocess
def handler(event, context):
    child = subprocess.Popen(["sleep", "30"], start_new_session=False)
    print("x" * 70000)  # more than a pipe buffer: blocks the RIE unless someone drains
    return {"env": dict(os.environ), "child": child.pid}
"""


def spec(code_dir: Path, runtime: str = "python3.11", **env: str) -> SandboxSpec:
    return SandboxSpec(function="fn", config_hash="h", handler="app.handler", runtime=runtime, code_dir=code_dir,
                       deps_dir=code_dir.parent / "deps", layer_dirs=(code_dir.parent / "layers" / "L",),
                       environment={"AWS_LAMBDA_FUNCTION_NAME": "fn", **env}, memory_mb=128, timeout_s=3)


def test_start_invoke_stop(rie_path: Path, write_function: Callable[..., Path],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_SECRET_THING", "leak")
    code = write_function("fn", SOURCE)
    engine = ProcessEngine(rie_path)
    lines: list[str] = []
    sandbox = engine.start(spec(code, GREETING="hi"), lines.append)
    try:
        with urllib.request.urlopen(urllib.request.Request(sandbox.invoke_url, data=b"{}"), timeout=10) as resp:
            body = json.loads(resp.read())
        env = body["env"]
        assert env["GREETING"] == "hi" and "ESB_SECRET_THING" not in env
        assert "GOMAXPROCS" not in env  # the RIE's own setting (RIE_GO_ENV), never its runtime's
        paths = env["PYTHONPATH"].split(":")
        assert paths[0] == str(code) and paths[1].endswith("deps") and paths[2].endswith("layers/L/python")
        assert Path(paths[3], "esb_runtime").is_dir()
        assert env["_HANDLER"] == "app.handler" and env["LAMBDA_TASK_ROOT"] == str(code)
        deadline = time.monotonic() + 5  # output is read in chunks, a moment after it was written
        while not any(line == "x" * 70000 for line in lines) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert any(line == "x" * 70000 for line in lines)
        assert engine.alive(sandbox)
        pid = engine.pid(sandbox)
        assert pid is not None and body["child"] in session_pids(pid)
    finally:
        engine.stop(sandbox)
    assert not engine.alive(sandbox)
    assert session_pids(pid) == []
    engine.stop(sandbox)  # idempotent


def test_runtime_mismatch_is_noted_once(rie_path: Path, write_function: Callable[..., Path]) -> None:
    code = write_function("fn", "def handler(e, c):\n    return 1\n")
    engine = ProcessEngine(rie_path)
    for _ in range(2):
        engine.stop(engine.start(spec(code, runtime="python3.9"), lambda line: None))
    assert sum("python3.9" in note for note in engine.notes()) == 1


def test_missing_code_dir_and_bad_rie(tmp_path: Path, rie_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        ProcessEngine(rie_path).start(spec(tmp_path / "nope"), lambda line: None)
    (tmp_path / "src").mkdir()
    with pytest.raises(EngineError, match="cannot start the RIE"):
        ProcessEngine(tmp_path / "no-rie").start(spec(tmp_path / "src"), lambda line: None)


def test_memory_limiter_explains_itself(tmp_path: Path) -> None:
    limiter = MemoryLimiter(root=tmp_path)
    assert limiter.base is None and "no cgroup v2" in (limiter.note or "")
    assert limiter.attach("sb-1", 1, 128) is None


def test_sandboxes_are_registered_while_they_live(rie_path: Path, write_function: Callable[..., Path]) -> None:
    code = write_function("fn", "def handler(event, context):\n    return 1\n")
    registry = SandboxRegistry(code.parent / "registry")
    engine = ProcessEngine(rie_path, registry=registry)
    sandbox = engine.start(spec(code), lambda line: None)
    try:
        assert [(e.sandbox, e.sid, e.function) for e in registry.entries()] == [(sandbox.id, engine.pid(sandbox), "fn")]
    finally:
        engine.stop(sandbox)
    assert registry.entries() == [] and engine.clear_leftovers() == 0


# A stand-in manager: starts one sandbox that must die with it, prints the RIE's PID, then waits to be killed.
MANAGER = """
import sys, time
from pathlib import Path
from esb_runtime import procfs
from esb_runtime.contract import RIE_GO_ENV
from esb_runtime.engine import SandboxSpec
from esb_runtime.manager.process_engine import ProcessEngine
code = Path(sys.argv[2])
spec = SandboxSpec(function="fn", config_hash="h", handler="app.handler", runtime="python3.11", code_dir=code,
                   deps_dir=None, layer_dirs=(), environment={}, memory_mb=128, timeout_s=3)
engine = ProcessEngine(Path(sys.argv[1]), die_with_manager=True)
sandbox = engine.start(spec, lambda line: None)
print(engine.pid(sandbox), flush=True)
time.sleep(60)
"""


def test_the_rie_dies_with_a_manager_killed_by_sigkill(rie_path: Path, write_function: Callable[..., Path]) -> None:
    code = write_function("fn", "def handler(event, context):\n    return 1\n")
    manager = subprocess.Popen([sys.executable, "-c", MANAGER, str(rie_path), str(code)], stdout=subprocess.PIPE,
                               text=True, start_new_session=True)
    rie, ticks = 0, 0
    try:
        rie = int(manager.stdout.readline()) if manager.stdout else 0
        ticks = procfs.start_ticks(rie) or 0
        assert rie and ticks and procfs.same_process(rie, ticks)
        os.kill(manager.pid, signal.SIGKILL)
        manager.wait(10)
        deadline = time.monotonic() + 10
        while procfs.same_process(rie, ticks) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not procfs.same_process(rie, ticks)  # PDEATHSIG: gone without anyone sweeping
    finally:
        if manager.poll() is None:
            manager.kill()
            manager.wait()
        if rie and procfs.same_process(rie, ticks):  # this test failed: leave nothing behind
            kill_session(rie)


@pytest.mark.parametrize(("level", "chatter"), [("error", False), ("debug", True)])
def test_emulator_lines_only_at_its_debug_level(rie_path: Path, write_function: Callable[..., Path],
                                                level: str, chatter: bool) -> None:
    """The RIE's own INFO/DEBUG lines appear only with `esb up --debug`; the function's LOG_LEVEL is not its."""
    code = write_function("fn", "def handler(event, context):\n    print('mine')\n    return 1\n")
    engine = ProcessEngine(rie_path, rie_log_level=level)
    lines: list[str] = []
    sandbox = engine.start(spec(code, LOG_LEVEL="DEBUG"), lines.append)
    try:
        with urllib.request.urlopen(urllib.request.Request(sandbox.invoke_url, data=b"{}"), timeout=10) as resp:
            assert resp.read() == b"1"
    finally:
        engine.stop(sandbox)
    assert "mine" in lines
    assert any("(rapid)" in line for line in lines) is chatter


@pytest.mark.parametrize("own", [None, "3"])
def test_the_rie_runs_on_one_go_thread_unless_the_function_sets_gomaxprocs(
        rie_path: Path, write_function: Callable[..., Path], own: str | None) -> None:
    code = write_function("fn", "import os\ndef handler(event, context):\n    return os.environ.get('GOMAXPROCS')\n")
    engine = ProcessEngine(rie_path)
    sandbox = engine.start(spec(code, **({"GOMAXPROCS": own} if own else {})), lambda line: None)
    try:
        with urllib.request.urlopen(urllib.request.Request(sandbox.invoke_url, data=b"{}"), timeout=10) as resp:
            seen = json.loads(resp.read())
        rie_pid = engine.pid(sandbox)
        assert rie_pid is not None
        rie_env = dict(item.split("=", 1) for item in Path(f"/proc/{rie_pid}/environ").read_text().split("\0") if item)
    finally:
        engine.stop(sandbox)
    assert rie_env["GOMAXPROCS"] == (own or RIE_GO_ENV["GOMAXPROCS"])
    assert seen == own  # the handler sees its own value, or none at all


def test_output_is_read_in_chunks_into_whole_lines() -> None:
    from esb_runtime.manager.process_engine import CHUNK_BYTES, output_lines

    class Pieces(io.RawIOBase):
        """A pipe whose reads return what was written so far: lines cut anywhere."""

        def __init__(self, pieces: list[bytes]) -> None:
            self.pieces = pieces

        def read1(self, size: int = -1) -> bytes:
            return self.pieces.pop(0) if self.pieces else b""

    naps: list[float] = []
    long = b"y" * CHUNK_BYTES
    pieces = [b"START a\nhalf", b" a line\r\n", long, b"\nlast without newline"]
    lines = list(output_lines(Pieces(pieces), settle_s=0.002, sleep=naps.append))
    assert lines == ["START a", "half a line", "y" * CHUNK_BYTES, "last without newline"]
    assert naps == [0.002, 0.002, 0.002]  # after each short read; a full chunk is read on at once
