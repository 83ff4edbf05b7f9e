"""The doit pipeline: incremental builds, only changed functions rebuild, byte-stable output trees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from esb.cli import main
from esb.build.runner import run_doit
from esb.project import load_project
from esb.build.context import build_context
from esb.paths import P


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "sample"
    shutil.copytree(P.sample, target)
    monkeypatch.chdir(target)
    return target


def _snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith(".doit.db")}


def _changed(before: dict[str, tuple[int, bytes]], after: dict[str, tuple[int, bytes]]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def _build(capsys: pytest.CaptureFixture[str], *flags: str) -> list[str]:
    """The build as `esb build` runs it; the names of the tasks that ran, as doit's reporter recorded them."""
    ran: list[str] = []
    ctx = build_context(load_project(None, cwd=Path.cwd(), env={}))
    assert run_doit(ctx, ["run", *flags, "build"], ran_tasks=ran) == 0
    capsys.readouterr()
    return ran


def test_second_build_runs_nothing_and_rewrites_nothing(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(capsys)
    before = _snapshot(app_dir / ".esb")
    assert "config/routing.yml" in before and "functions/sample-hello/build.json" in before
    assert _build(capsys) == []
    assert _changed(before, _snapshot(app_dir / ".esb")) == set()


def test_code_change_rebuilds_only_that_function(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(capsys)
    before = _snapshot(app_dir / ".esb")
    with (app_dir / "functions" / "hello" / "app.py").open("a") as fh:
        fh.write("# changed\n")
    ran = _build(capsys)
    assert "stage:HelloFunction" in ran and "stage:ItemsFunction" not in ran and "config" not in ran
    assert _changed(before, _snapshot(app_dir / ".esb")) == {
        "functions/sample-hello/src/app.py", "functions/sample-hello/build.json"}


def test_deleted_source_file_is_removed_from_stage(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = app_dir / "functions" / "items" / "extra.py"
    extra.write_text("X = 1\n")
    (app_dir / "functions" / "items" / "__pycache__").mkdir()
    (app_dir / "functions" / "items" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    _build(capsys)
    staged = app_dir / ".esb" / "functions" / "sample-items" / "src"
    assert (staged / "extra.py").is_file() and not (staged / "__pycache__").exists()
    extra.unlink()
    assert "stage:ItemsFunction" in _build(capsys)
    assert not (staged / "extra.py").exists()


def test_global_change_rerenders_every_function(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(capsys)
    before = _snapshot(app_dir / ".esb")
    template = app_dir / "template.yaml"
    template.write_text(template.read_text().replace("Timeout: 5", "Timeout: 7"))
    ran = _build(capsys)
    for name in ("HelloFunction", "ItemsFunction", "WhoAmIFunction"):
        assert f"dockerfile:{name}" in ran
    assert _changed(before, _snapshot(app_dir / ".esb")) == {
        "config/functions.yml",
        "functions/sample-hello/Dockerfile", "functions/sample-items/Dockerfile", "functions/sample-whoami/Dockerfile"}


def test_no_cache_reruns_all_but_rewrites_nothing(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(capsys)
    before = _snapshot(app_dir / ".esb")
    assert len(_build(capsys, "--always-execute")) == 13  # what `esb build --no-cache` runs
    assert _changed(before, _snapshot(app_dir / ".esb")) == set()


def test_output_trees_are_byte_identical(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(capsys)
    (app_dir / "generator.yml").write_text("paths: {output_dir: other/}\n")
    _build(capsys)
    first = {k: v[1] for k, v in _snapshot(app_dir / ".esb").items()}
    second = {k: v[1] for k, v in _snapshot(app_dir / "other").items()}
    assert first == second and len(first) > 10


def test_layers_staged_into_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(P.fixtures / "full", tmp_path / "full")
    monkeypatch.chdir(tmp_path / "full")
    _build(capsys)
    fn = tmp_path / "full" / ".esb" / "functions" / "full-dev-api"
    assert (fn / "layers" / "full-common" / "python" / "common" / "__init__.py").is_file()
    assert (fn / "deps").is_dir() and len((fn / "build.json").read_text()) > 70


def test_requirements_installed_with_pip_target_and_vendor(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from esb.project import load_project
    from esb.build.context import BuildContext, load_application
    from esb.build.function_tasks import deps_marker, install_deps

    code = app_dir / "functions" / "items"
    (code / "requirements.txt").write_text("tinylib==1.0\n")
    (code / "vendor").mkdir()
    calls: list[list[str]] = []

    def runner(cmd: list[str], **kw: object) -> None:
        calls.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "tinylib.py").write_text("X = 1\n")

    project = load_project(None, cwd=app_dir, env={})
    ctx = BuildContext(project=project, app=load_application(project), runner=runner)  # type: ignore[arg-type]
    fn = ctx.app.function("ItemsFunction")
    install_deps(ctx, fn)
    assert calls and calls[0][1:4] == ["-m", "pip", "install"]
    assert calls[0][-3:] == ["--no-index", "--find-links", str(code / "vendor")]
    assert (ctx.tree.function_deps(fn.name) / "tinylib.py").is_file()
    assert "deps_hash" in deps_marker(ctx, fn).read_text()


def test_plain_doit_in_project_dir(app_dir: Path) -> None:
    import subprocess
    import sys

    assert main(["init", "--yes"]) == 0
    env = {"PATH": "/usr/bin:/bin", "HOME": str(app_dir)}
    listed = subprocess.run([sys.executable, "-m", "doit", "list"], cwd=app_dir, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "stage" in listed.stdout and "build" in listed.stdout
    built = subprocess.run([sys.executable, "-m", "doit", "build"], cwd=app_dir, env=env, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert (app_dir / ".esb" / "functions" / "sample-hello" / "build.json").is_file()
    (app_dir / "template.yaml").write_text("Resources: [\n")
    broken = subprocess.run([sys.executable, "-m", "doit", "list"], cwd=app_dir, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode != 0 and "Traceback" not in broken.stderr and "template.yaml" in broken.stderr
