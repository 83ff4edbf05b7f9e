"""Docker engine: python3.12 and python3.13 templates start offline on their base images (never a registry pull)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boxkit import remove_images, running_box

pytestmark = pytest.mark.docker

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {CodeUri: src/, Handler: app.handler, Timeout: 30}
Resources:
  Py312:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: py312, Runtime: python3.12}
  Py313:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: py313, Runtime: python3.13}
"""
APP = "import sys\n\ndef handler(event, context):\n    return {'python': '%d.%d' % sys.version_info[:2]}\n"


def test_each_declared_python_runs_on_its_own_or_the_closest_offline_base(docker_daemon: None, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "pyversions"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text(APP)
    (project / "template.yaml").write_text(TEMPLATE)
    try:
        with running_box(project, engine="docker") as box:
            lam = box.boto3("lambda")
            seen = {name: json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
                    for name in ("py312", "py313")}
    finally:
        remove_images(project.name)
    assert seen == {"py312": {"python": "3.13"}, "py313": {"python": "3.13"}}  # Debian has no 3.12: trixie's 3.13
    err = capsys.readouterr().err
    assert "warning: python3.12 functions run on Python 3.13 in docker" in err
