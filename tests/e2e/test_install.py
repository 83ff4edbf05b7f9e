"""Installed like real software: a built wheel in a fresh venv, outside the checkout, runs the sample and builds apps."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from boxkit import free_ports_env
from esb.paths import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


class Installed:
    """The `esb` of a fresh venv, run as a user would: a subprocess in some folder, a clean environment."""

    def __init__(self, venv: Path, env: dict[str, str]) -> None:
        self.venv = venv
        self.env = env

    def run(self, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "esb"), *argv], cwd=cwd, env=self.env,
                              capture_output=True, text=True, timeout=300)


_NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "*.egg-info", ".esb", "__pycache__", ".pytest_cache")


def _not_sources(folder: str, names: list[str]) -> set[str]:
    # setuptools' build/ and dist/ only at the top: esb/build/ is a package.
    top = {"build", "dist"} & set(names) if Path(folder) == REPO else set()
    return set(_NOT_SOURCES(folder, names)) | top


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    source, dist, venv = root / "source", root / "dist", root / "venv"
    # Built from a clean copy: setuptools' build/ folder in a checkout can carry files deleted since.
    shutil.copytree(REPO, source, symlinks=True, ignore=_not_sources)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
                   check=True, cwd=root)
    wheels = list(dist.glob("edge_serverless_box-*.whl"))
    assert len(wheels) == 1, wheels
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheels[0])], check=True, cwd=root)
    # The user's environment, less anything that points back at this checkout or this test run.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESB_", "AWS_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    yield Installed(venv, env)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed, tmp_path: Path) -> None:
    probe = subprocess.run([str(installed.venv / "bin" / "python"), "-c",
                            "import esb, esb_runtime; print(esb.__file__); print(esb_runtime.__file__)"],
                           cwd=tmp_path, env=installed.env, capture_output=True, text=True, check=True)
    for line in probe.stdout.split():
        assert Path(line).is_relative_to(installed.venv), line
    version = installed.run(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("esb 0."), version


def test_up_in_an_empty_folder_serves_the_sample_over_https(installed: Installed, tmp_path: Path) -> None:
    env = {**installed.env, **free_ports_env()}
    box = Installed(installed.venv, env)
    up = box.run(tmp_path, "up", "-d", "--engine", "process")
    try:
        assert up.returncode == 0, up.stderr
        assert "Traceback" not in up.stdout + up.stderr
        status = box.run(tmp_path, "status", "--json")
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)  # exactly one JSON document on stdout
        trust = ssl.create_default_context(cafile=info["gateway"]["ca_file"])
        with urllib.request.urlopen(info["gateway"]["url"] + "/health", context=trust, timeout=10) as answer:
            assert answer.status == 200
        # A reader that closes the pipe early is not an error.
        head = subprocess.run(f"'{installed.venv}/bin/esb' status --json | head -c 10", shell=True, cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)
        assert head.stdout == status.stdout[:10] and "Traceback" not in head.stderr, head.stderr
    finally:
        down = box.run(tmp_path, "down")
    assert down.returncode == 0, down.stderr
    assert box.run(tmp_path, "status", "--json").returncode == 3  # no box running


def test_build_of_a_user_template_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n")
    (app / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Hi:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n"
        "      Events:\n        Get:\n          Type: Api\n          Properties: {Path: /hi, Method: get}\n")
    build = installed.run(app, "build")
    assert build.returncode == 0, build.stderr
    routing = (app / ".esb" / "config" / "routing.yml").read_text()
    assert "/hi" in routing
    assert (app / ".esb" / "runtime" / "esb_runtime" / "__init__.py").is_file()
