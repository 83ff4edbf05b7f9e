"""The process engine's side of the Lambda Python environment: the recorded interpreter, -S, sys.path order."""

from __future__ import annotations

from pathlib import Path

from esb_runtime.contract import PYTHON_BOOTSTRAP, PythonRecord, write_python_record
from esb_runtime.engine import SandboxSpec
from esb_runtime.manager.python_host import python_command, python_environment, read_host


def staged(tmp_path: Path, note: str | None = None) -> Path:
    root = tmp_path / "runtimes" / "python3.12"
    (root / PYTHON_BOOTSTRAP).parent.mkdir(parents=True)
    (root / PYTHON_BOOTSTRAP).write_text("")
    write_python_record(root, PythonRecord(python="/usr/bin/python3.11", version="3.11", runtime="python3.12",
                                           note=note))
    return root


def test_no_record_or_no_bootstrap_means_the_old_way(tmp_path: Path) -> None:
    assert read_host(None) is None and read_host(tmp_path) is None
    root = staged(tmp_path)
    (root / PYTHON_BOOTSTRAP).unlink()
    assert read_host(root) is None


def test_the_recorded_interpreter_runs_the_bootstrap_without_site_packages(tmp_path: Path) -> None:
    host = read_host(staged(tmp_path, note="closest"))
    assert host is not None and host.note == "closest"
    assert python_command(host, "app.handler") == ["/usr/bin/python3.11", "-S", str(host.root / PYTHON_BOOTSTRAP),
                                                   "app.handler"]


def test_sys_path_is_code_deps_layers_then_the_runtime_packages_only(tmp_path: Path) -> None:
    host = read_host(staged(tmp_path))
    assert host is not None
    spec = SandboxSpec(function="f", config_hash="h", handler="app.handler", runtime="python3.12",
                       code_dir=tmp_path / "code", deps_dir=tmp_path / "deps", layer_dirs=(tmp_path / "L",),
                       environment={}, memory_mb=128, timeout_s=3)
    env = python_environment(spec, host)
    assert env["PYTHONPATH"].split(":") == [str(tmp_path / "code"), str(tmp_path / "deps"),
                                            str(tmp_path / "L" / "python"), str(host.site)]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"  # what runs, not what was declared


def test_a_debug_session_runs_the_same_environment_with_debugpy_after_it(tmp_path: Path) -> None:
    from esb_runtime.manager.process_engine import ProcessEngine

    root = staged(tmp_path)
    spec = SandboxSpec(function="f", config_hash="h", handler="app.handler", runtime="python3.12",
                       code_dir=tmp_path / "code", deps_dir=None, layer_dirs=(), environment={}, memory_mb=128,
                       timeout_s=3, runtime_dir=root, debug_port=5890, debug_site=tmp_path / "debug" / "site")
    host = read_host(root)
    assert host is not None
    assert python_environment(spec, host)["PYTHONPATH"].split(":") == [str(tmp_path / "code"), str(host.site),
                                                                       str(tmp_path / "debug" / "site")]
    command = ProcessEngine(Path("/rie"), python="/box/python")._runtime_command(spec, host)
    assert command == ["/usr/bin/python3.11", "-S", "-Xfrozen_modules=off", "-m", "debugpy", "--listen",
                       "127.0.0.1:5890", "--wait-for-client", str(root / PYTHON_BOOTSTRAP), "app.handler"]
