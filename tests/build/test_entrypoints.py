"""The base images' entrypoints, run with sh: the box sets the RIE's log level, the function's LOG_LEVEL never does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from esb.build.images import _jinja
from esb_runtime.contract import RIE_LOG_LEVEL_ENV

# Stands in for the RIE: prints its arguments, then the variables the runtime under it would inherit.
FAKE_RIE = '#!/bin/sh\necho "argv: $*"\necho "LOG_LEVEL=${LOG_LEVEL-unset}"\necho "box=${%s-unset}"\n' % RIE_LOG_LEVEL_ENV


def _entrypoint(tmp_path: Path, template: str) -> Path:
    values = {"runtime_module": "esb_runtime.sandbox.bootstrap", "bootstrap": "/var/runtime/bootstrap.mjs"}
    text = _jinja().get_template(template).render(values)
    rie = tmp_path / "aws-lambda-rie"
    rie.write_text(FAKE_RIE)
    rie.chmod(0o755)
    assert "/usr/local/bin/aws-lambda-rie" in text
    script = tmp_path / "lambda-entrypoint.sh"
    script.write_text(text.replace("/usr/local/bin/aws-lambda-rie", str(rie)))
    return script


def _run(script: Path, env: dict[str, str]) -> list[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(["sh", str(script), "app.handler"], env={**base, **env}, capture_output=True,
                          text=True, timeout=10, check=True)
    return done.stdout.splitlines()


@pytest.mark.parametrize("template", ["lambda-entrypoint.sh.j2", "node-entrypoint.sh.j2"])
def test_the_box_sets_the_rie_log_level_and_the_function_keeps_its_own(tmp_path: Path, template: str) -> None:
    script = _entrypoint(tmp_path, template)
    argv, log_level, box = _run(script, {"LOG_LEVEL": "DEBUG", RIE_LOG_LEVEL_ENV: "debug"})
    assert argv.startswith("argv: --log-level debug ") and argv.endswith(" app.handler")
    assert log_level == "LOG_LEVEL=DEBUG"  # the handler's own variable reaches it unchanged
    assert box == "box=unset"  # taken out before the RIE (and so the handler) starts


@pytest.mark.parametrize("template", ["lambda-entrypoint.sh.j2", "node-entrypoint.sh.j2"])
def test_without_the_box_variable_the_rie_logs_errors_only(tmp_path: Path, template: str) -> None:
    # `docker run` by hand, or a manager that predates the variable: quiet, whatever LOG_LEVEL says.
    argv, _, _ = _run(_entrypoint(tmp_path, template), {"LOG_LEVEL": "DEBUG"})
    assert argv.startswith("argv: --log-level error ")
