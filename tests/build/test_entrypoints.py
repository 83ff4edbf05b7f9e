"""The base images' entrypoints, run with sh: the box sets the RIE's log level and Go settings, the function's own
LOG_LEVEL and GOMAXPROCS are never overridden, and the runtime starts without the RIE's settings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from esb.build.images import write_entrypoint
from esb_runtime.contract import RIE_GO_ENV, RIE_LOG_LEVEL_ENV

# Stands in for the RIE: prints its arguments, then the variables it sees (the runtime under it inherits them).
FAKE_RIE = ('#!/bin/sh\necho "argv: $*"\necho "LOG_LEVEL=${LOG_LEVEL-unset}"\necho "box=${%s-unset}"\n'
            'echo "GOMAXPROCS=${GOMAXPROCS-unset}"\n' % RIE_LOG_LEVEL_ENV)
COMMANDS = {"python": "/usr/bin/python3 -m esb_runtime.sandbox.bootstrap",
            "node": "/usr/bin/node /var/runtime/bootstrap.mjs"}


def _entrypoint(tmp_path: Path, runtime: str) -> Path:
    write_entrypoint(tmp_path, COMMANDS[runtime], "app.handler")
    script = tmp_path / "lambda-entrypoint.sh"
    text = script.read_text()
    assert "/usr/local/bin/aws-lambda-rie" in text
    rie = tmp_path / "aws-lambda-rie"
    rie.write_text(FAKE_RIE)
    rie.chmod(0o755)
    script.write_text(text.replace("/usr/local/bin/aws-lambda-rie", str(rie)))
    return script


def _run(script: Path, env: dict[str, str]) -> list[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(["sh", str(script), "app.handler"], env={**base, **env}, capture_output=True,
                          text=True, timeout=10, check=True)
    return done.stdout.splitlines()


@pytest.mark.parametrize("runtime", sorted(COMMANDS))
def test_the_box_sets_the_rie_log_level_and_the_function_keeps_its_own(tmp_path: Path, runtime: str) -> None:
    script = _entrypoint(tmp_path, runtime)
    argv, log_level, box, _ = _run(script, {"LOG_LEVEL": "DEBUG", RIE_LOG_LEVEL_ENV: "debug"})
    assert argv.startswith("argv: --log-level debug ") and argv.endswith(f"{COMMANDS[runtime]} app.handler")
    assert log_level == "LOG_LEVEL=DEBUG"  # the handler's own variable reaches it unchanged
    assert box == "box=unset"  # taken out before the RIE (and so the handler) starts


@pytest.mark.parametrize("runtime", sorted(COMMANDS))
def test_without_the_box_variable_the_rie_logs_errors_only(tmp_path: Path, runtime: str) -> None:
    # `docker run` by hand, or a manager that predates the variable: quiet, whatever LOG_LEVEL says.
    argv, _, _, _ = _run(_entrypoint(tmp_path, runtime), {"LOG_LEVEL": "DEBUG"})
    assert argv.startswith("argv: --log-level error ")


@pytest.mark.parametrize("runtime", sorted(COMMANDS))
def test_the_rie_runs_on_one_go_thread_and_its_runtime_without_the_variable(tmp_path: Path, runtime: str) -> None:
    argv, _, _, gomaxprocs = _run(_entrypoint(tmp_path, runtime), {})
    assert gomaxprocs == f"GOMAXPROCS={RIE_GO_ENV['GOMAXPROCS']}"
    assert argv.endswith(f" env -u GOMAXPROCS {COMMANDS[runtime]} app.handler")


def test_a_function_that_sets_gomaxprocs_keeps_it_for_its_runtime(tmp_path: Path) -> None:
    argv, _, _, gomaxprocs = _run(_entrypoint(tmp_path, "python"), {"GOMAXPROCS": "4"})
    assert gomaxprocs == "GOMAXPROCS=4"
    assert "env -u" not in argv
