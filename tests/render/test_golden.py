"""Golden tests: fixtures rendered byte for byte. Regenerate: ESB_UPDATE_GOLDEN=1 pytest tests/render/test_golden.py"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from esb.paths import P
from esb.project import load_project
from esb.build.context import BuildContext, load_application
from esb.build.plan import rendered_outputs

GOLDEN = Path(__file__).parents[1] / "golden"
APPS = ["sample", "full", "node", "image"]
# Read at import: the suite's autouse fixture clears ESB_* variables before each test.
UPDATE = os.environ.get("ESB_UPDATE_GOLDEN") == "1"


def _rendered(app_name: str, tmp_path: Path) -> dict[str, str]:
    project = load_project(str(P.fixtures / app_name / "template.yaml"), cwd=tmp_path, env={})
    ctx = BuildContext(project=project, app=load_application(project))
    return {p.relative_to(ctx.tree.root).as_posix(): text for p, text in rendered_outputs(ctx).items()}


@pytest.mark.parametrize("app_name", APPS)
def test_rendered_files_match_golden(app_name: str, tmp_path: Path) -> None:
    rendered = _rendered(app_name, tmp_path)
    root = GOLDEN / app_name
    if UPDATE:
        for rel, text in rendered.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
    expected = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert expected == set(rendered), "golden file set differs (ESB_UPDATE_GOLDEN=1 to regenerate)"
    for rel, text in rendered.items():
        assert (root / rel).read_bytes() == text.encode("utf-8"), f"{app_name}/{rel} differs from golden"


@pytest.mark.parametrize("app_name", APPS)
def test_config_yaml_is_fully_resolved(app_name: str, tmp_path: Path) -> None:
    rendered = _rendered(app_name, tmp_path)
    for rel in ("config/routing.yml", "config/functions.yml"):
        text = rendered[rel]
        assert yaml.safe_load(text)
        for marker in ("${", "Ref", "Fn::", "!GetAtt", "!Sub"):
            assert marker not in text, f"{rel} contains {marker}"


def test_compose_parses_and_takes_credentials_from_env(tmp_path: Path) -> None:
    doc = yaml.safe_load(_rendered("sample", tmp_path)["docker-compose.yml"])
    assert set(doc["services"]) == {"gateway", "manager", "s3", "dynamodb", "logs"}
    assert doc["services"]["s3"]["environment"]["RUSTFS_SECRET_KEY"].startswith("${ESB_AWS_SECRET_ACCESS_KEY")
    for service in doc["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:")
    assert any(arg.startswith("--alternator-port=") for arg in doc["services"]["dynamodb"]["command"])
    assert any(arg.startswith("--alternator-write-isolation=") for arg in doc["services"]["dynamodb"]["command"])
