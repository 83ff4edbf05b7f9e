"""Lambda's Python environment for the process engine: interpreter choice, the cached build, staging, generator.yml."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Sequence

import pytest

from esb.build.python_runtime import (DEBUG_REQUIREMENTS, Interpreter, choose, ensure_debug_overlay,
                                      ensure_python_runtime, find_interpreters, stage_python_runtime)
from esb.errors import BuildError, ConfigError
from esb.project import parse_generator
from esb_runtime.contract import PYTHON_BOOTSTRAP, read_python_record

HOST = {"3.11": "/usr/bin/python3.11", "3.13": "/usr/bin/python3.13"}


def test_interpreters_come_from_the_system_path_then_generator_yml(tmp_path: Path) -> None:
    seen: list[str] = []
    named = tmp_path / "python3.12"
    named.write_text("")
    named.chmod(0o755)

    def which(name: str, path: str) -> str | None:
        seen.append(path)
        return f"/usr/bin/{name}" if name in ("python3.11", "python3.9") else None

    own = ("3.11", "/home/u/.pyenv/versions/3.11.7/bin/python3.11")
    found = find_interpreters({"3.12": str(named)}, which=which, own=own)
    assert found == {"3.9": "/usr/bin/python3.9", "3.11": "/usr/bin/python3.11", "3.12": str(named)}
    assert find_interpreters(which=lambda name, path: None, own=own) == {"3.11": own[1]}  # only pyenv: still runs
    assert all(".pyenv" not in path and "venv" not in path for path in seen)
    with pytest.raises(BuildError, match="not an executable"):
        find_interpreters({"3.12": str(tmp_path / "missing")}, which=which, own=own)


def test_the_declared_version_runs_when_the_host_has_it() -> None:
    assert choose("python3.13", HOST, strict=True) == (Interpreter("/usr/bin/python3.13", "3.13"), None)


@pytest.mark.parametrize("runtime,closest", [("python3.12", "3.13"), ("python3.10", "3.11"), ("python3.14", "3.13")])
def test_else_the_closest_one_with_a_note_that_tells_the_truth(runtime: str, closest: str) -> None:
    interpreter, note = choose(runtime, HOST, strict=False)
    assert interpreter.version == closest and note is not None
    assert f"AWS_EXECUTION_ENV says python{closest}" in note and "generator.yml" in note and "\n" not in note


def test_strict_refuses_naming_how_to_provide_the_interpreter() -> None:
    with pytest.raises(BuildError) as exc:
        choose("python3.12", HOST, strict=True)
    assert "no python3.12" in str(exc.value) and '"3.12": /path/to/python3.12' in (exc.value.hint or "")


def test_generator_yml_python_section() -> None:
    gen = parse_generator('python:\n  strict: true\n  interpreters: {"3.12": /opt/py/bin/python3.12}\n', "g.yml")
    assert gen.python.strict and gen.python.interpreters == (("3.12", "/opt/py/bin/python3.12"),)
    for bad in ("python:\n  interpreters: {3.10: /x}\n", "python:\n  interpreters: {'3.12': relative}\n",
                "python:\n  nope: 1\n"):
        with pytest.raises(ConfigError):
            parse_generator(bad, "g.yml")


class Runs:
    """The pip/compileall seam: records commands, makes the files pip would have installed."""

    def __init__(self) -> None:
        self.argv: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> None:
        self.argv.append(list(argv))
        if "download" in argv:
            folder = Path(argv[argv.index("-d") + 1])
            (folder / "boto3-1.0-py3-none-any.whl").write_text("wheel")
        if "--target" in argv:
            site = Path(argv[argv.index("--target") + 1])
            (site / "boto3").mkdir(parents=True)
            (site / "boto3" / "__init__.py").write_text("__version__ = '1.0'\n")


def test_the_environment_is_built_once_per_version_then_staged_with_its_record(tmp_path: Path) -> None:
    runs = Runs()
    interpreter = Interpreter("/usr/bin/python3.11", "3.11")
    env = ensure_python_runtime(tmp_path / "cache", interpreter, runs)
    again = ensure_python_runtime(tmp_path / "cache", interpreter, runs)
    assert again == env and sum("install" in argv for argv in runs.argv) == 1  # cached: content-hashed key
    install = next(argv for argv in runs.argv if "install" in argv)
    assert "--no-index" in install and install[install.index("--python-version") + 1] == "3.11"
    assert ["/usr/bin/python3.11", "-m", "compileall"] == runs.argv[-1][:3]
    assert (env.path / PYTHON_BOOTSTRAP).is_file() and not (env.path / "esb_runtime").exists()
    assert stat.S_IMODE(os.stat(env.path).st_mode) == 0o755
    dest = tmp_path / ".esb" / "runtimes" / "python3.12"
    assert stage_python_runtime(env, dest, interpreter, "python3.12", "a note")
    assert not stage_python_runtime(env, dest, interpreter, "python3.12", "a note")
    record = read_python_record(dest)
    assert record is not None and (record.python, record.version, record.runtime) == ("/usr/bin/python3.11", "3.11",
                                                                                       "python3.12")
    assert json.loads((dest / "python.json").read_text())["note"] == "a note"
    assert (dest / "site" / "boto3" / "__init__.py").stat().st_ino == (env.path / "site" / "boto3" / "__init__.py").stat().st_ino


def test_strict_generator_yml_makes_a_missing_interpreter_one_error_line(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from esb.cli import main

    missing = next((f"3.{m}" for m in (10, 12, 13, 9) if f"3.{m}" not in find_interpreters()), None)
    if missing is None:
        pytest.skip("this host has every python3.N the template could declare")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return {}\n")
    (tmp_path / "generator.yml").write_text("python:\n  strict: true\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        f"    Properties: {{CodeUri: src/, Handler: app.handler, Runtime: python{missing}}}\n")
    code = main(["-t", str(tmp_path / "template.yaml"), "build"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert code != 0 and len(errors) == 1 and f"no python{missing}" in errors[0] and "generator.yml" in errors[0]


def test_the_debug_overlay_holds_debugpy_only_built_once_per_version_apart_from_the_environment(tmp_path: Path) -> None:
    runs = Runs()
    cache = tmp_path / "cache"
    interpreter = Interpreter("/usr/bin/python3.12", "3.12")
    env = ensure_python_runtime(cache, interpreter, runs)
    site = ensure_debug_overlay(cache, interpreter, runs)
    assert ensure_debug_overlay(cache, interpreter, runs) == site
    assert len(runs.argv) == 6  # twice download, install, compile: the environment's and the overlay's, once each
    download, install = runs.argv[3], runs.argv[4]
    assert download[-1] == install[-1] == DEBUG_REQUIREMENTS[0] and len(DEBUG_REQUIREMENTS) == 1
    assert "--no-index" in install and install[install.index("--python-version") + 1] == "3.12"
    assert site.parent.parent == cache / "python-debug" and not site.is_relative_to(env.path)
    assert ensure_debug_overlay(cache, Interpreter("/usr/bin/python3.11", "3.11"), runs) != site  # per version
