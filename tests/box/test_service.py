"""`esb service install`: the rendered unit is what systemd accepts, quoted, and written only when it changes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from boxkit import copy_app, esb
from esb.box.service import Unit, quote, render_unit, unit_name
from tools import need_tool


def _unit(tmp_path: Path, **extra: object) -> Unit:
    values = dict(project="shop", project_dir=tmp_path / "my shop", template=tmp_path / "my shop" / "template.yaml",
                  python=sys.executable, engine="process", home="/home/ada", system=True)
    values.update(extra)
    return Unit(**values)  # type: ignore[arg-type]


def test_words_with_spaces_percent_and_dollar_are_quoted_for_systemd() -> None:
    assert quote("/usr/bin/python3") == "/usr/bin/python3"
    assert quote("/srv/my shop") == '"/srv/my shop"'
    assert quote("50%$x") == '"50%%$$x"'
    assert quote('a"b') == '"a\\"b"'
    assert unit_name("my shop/1") == "esb-my-shop-1.service"


def test_the_unit_runs_up_in_the_foreground_and_down_after(tmp_path: Path) -> None:
    text = render_unit(_unit(tmp_path))
    assert f'ExecStart={sys.executable} -m esb.cli -t "{tmp_path}/my shop/template.yaml" up --engine process' in text
    assert "ExecStopPost=-" in text and text.rstrip().endswith("WantedBy=multi-user.target")
    assert "Restart=on-failure" in text
    assert "WantedBy=default.target" in render_unit(_unit(tmp_path, system=False))


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    need_tool(shutil.which("systemd-analyze") is not None, "systemd-analyze is not installed")
    (tmp_path / "my shop").mkdir()
    path = tmp_path / "esb-shop.service"
    path.write_text(render_unit(_unit(tmp_path)))
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "esb-shop.service" not in done.stderr  # no warning about our unit (others' units may warn)


def test_install_through_the_cli_writes_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_app("sample", tmp_path)
    units = tmp_path / "units"
    assert esb(project, "service", "install", "--unit-dir", str(units)) == 0
    written = units / "esb-sample.service"
    assert f"WorkingDirectory={project}" in written.read_text()
    assert "wrote" in capsys.readouterr().out
    assert esb(project, "service", "install", "--unit-dir", str(units)) == 0
    assert "up to date" in capsys.readouterr().out
    assert esb(project, "service", "install", "--engine", "compose", "--unit-dir", str(units)) == 1
