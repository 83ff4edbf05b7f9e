"""The toolchain side of Node.js functions: the cached runtime environment, npm installs of package.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from esb.errors import BuildError
from esb.model import Function
from esb.build.node_runtime import KEY_FILE, PRUNED, ensure_node_runtime, node_major, runtime_key, stage_node_runtime
from esb.build.node_tasks import install_packages


class FakeRunner:
    """Records argv and cwd; fakes `node --version` and what `npm ci` leaves behind."""

    def __init__(self, version: str = "v20.11.1\n", fail: str | None = None) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.version = version
        self.fail = fail

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        cwd = kwargs.get("cwd")
        self.calls.append((list(argv), cwd))
        if self.fail is not None:
            raise subprocess.CalledProcessError(1, argv, output="", stderr=f"npm ERR! {self.fail}\n")
        if argv[1:] == ["--version"]:
            return subprocess.CompletedProcess(argv, 0, self.version, "")
        work = Path(str(cwd))
        (work / "node_modules" / "aws-lambda-ric" / "dist").mkdir(parents=True)
        (work / "node_modules" / "aws-lambda-ric" / "dist" / "index.mjs").write_text("export {}\n")
        (work / "node_modules" / "aws-lambda-ric" / "deps").mkdir()
        (work / "node_modules" / "aws-lambda-ric" / "deps" / "curl.tar.gz").write_text("big")
        return subprocess.CompletedProcess(argv, 0, "", "")


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "lock"
    folder.mkdir()
    (folder / "package.json").write_text('{"dependencies": {"aws-lambda-ric": "3.3.0"}}\n')
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    return folder


def test_node_major_parses_the_version_and_rejects_garbage() -> None:
    assert node_major(runner=FakeRunner("v22.3.0\n")) == 22
    with pytest.raises(BuildError, match="not a version"):
        node_major(runner=FakeRunner("hello\n"))


def test_runtime_key_changes_with_the_node_major_and_the_lock(lock_dir: Path) -> None:
    key = runtime_key(20, lock_dir, machine="x86_64")
    assert key == runtime_key(20, lock_dir, machine="x86_64")
    assert key != runtime_key(22, lock_dir, machine="x86_64")
    assert key != runtime_key(20, lock_dir, machine="aarch64")
    (lock_dir / "package-lock.json").write_text('{"lockfileVersion": 3, "x": 1}\n')
    assert key != runtime_key(20, lock_dir, machine="x86_64")


def test_the_runtime_is_installed_once_pruned_and_reused(tmp_path: Path, lock_dir: Path) -> None:
    runner = FakeRunner()
    first = ensure_node_runtime(tmp_path / "cache", 20, runner=runner, lock_dir=lock_dir)
    assert [argv[:3] for argv, _ in runner.calls] == [["npm", "ci", "--omit=dev"]]
    assert (first.path / "node_modules" / "aws-lambda-ric" / "dist" / "index.mjs").is_file()
    assert not any((first.path / rel).exists() for rel in PRUNED)
    assert (first.path / "package-lock.json").read_text() == (lock_dir / "package-lock.json").read_text()
    again = ensure_node_runtime(tmp_path / "cache", 20, runner=runner, lock_dir=lock_dir)
    assert again == first and len(runner.calls) == 1  # offline from now on
    assert [p.name for p in (tmp_path / "cache" / "node-runtime").iterdir()] == [first.key]


def test_a_failed_install_is_one_line_naming_the_build_tools_and_leaves_no_cache(tmp_path: Path,
                                                                                 lock_dir: Path) -> None:
    with pytest.raises(BuildError, match="npm ci of the Node.js runtime failed: npm ERR! gyp.*autoconf"):
        ensure_node_runtime(tmp_path / "cache", 20, runner=FakeRunner(fail="gyp"), lock_dir=lock_dir)
    assert list((tmp_path / "cache" / "node-runtime").iterdir()) == []


def test_staging_links_the_cached_files_and_is_skipped_when_current(tmp_path: Path, lock_dir: Path) -> None:
    runtime = ensure_node_runtime(tmp_path / "cache", 20, runner=FakeRunner(), lock_dir=lock_dir)
    dest = tmp_path / "out" / "runtimes" / "nodejs"
    assert stage_node_runtime(runtime, dest) is True
    staged = dest / "node_modules" / "aws-lambda-ric" / "dist" / "index.mjs"
    assert staged.read_text() == "export {}\n"
    assert staged.stat().st_ino == (runtime.path / staged.relative_to(dest)).stat().st_ino  # a hard link
    assert dest.stat().st_mode & 0o777 == 0o755
    assert (dest / KEY_FILE).read_text().strip() == runtime.key
    assert stage_node_runtime(runtime, dest) is False


def _fn(code: Path, runtime: str = "nodejs20.x") -> Function:
    return Function(logical_id="Fn", name="fn", code_uri=code, handler="index.handler", runtime=runtime)


class _Ctx:
    def __init__(self, runner: Any) -> None:
        self.runner = runner


def test_package_json_with_a_lock_is_npm_ci_without_dev_deps(tmp_path: Path) -> None:
    code, deps = tmp_path / "src", tmp_path / "deps"
    code.mkdir()
    deps.mkdir()
    (code / "package.json").write_text(json.dumps({"dependencies": {"x": "1.0.0"}}))
    (code / "package-lock.json").write_text("{}")
    runner = FakeRunner()
    install_packages(_Ctx(runner), _fn(code), deps)  # type: ignore[arg-type]
    argv, cwd = runner.calls[0]
    assert argv[:3] == ["npm", "ci", "--omit=dev"] and cwd == str(deps)
    assert (deps / "node_modules").is_dir()
    assert not (deps / "package.json").exists() and not (deps / "package-lock.json").exists()


def test_package_json_without_a_lock_is_npm_install_and_none_is_nothing(tmp_path: Path) -> None:
    code, deps = tmp_path / "src", tmp_path / "deps"
    code.mkdir()
    deps.mkdir()
    runner = FakeRunner()
    install_packages(_Ctx(runner), _fn(code), deps)  # type: ignore[arg-type]
    assert runner.calls == []
    (code / "package.json").write_text("{}")
    install_packages(_Ctx(runner), _fn(code), deps)  # type: ignore[arg-type]
    assert runner.calls[0][0][:3] == ["npm", "install", "--omit=dev"]


def test_a_failed_package_install_names_the_package_json(tmp_path: Path) -> None:
    code, deps = tmp_path / "src", tmp_path / "deps"
    code.mkdir()
    deps.mkdir()
    (code / "package.json").write_text("{}")
    with pytest.raises(BuildError, match=r"package.json: npm install failed: npm ERR! E404"):
        install_packages(_Ctx(FakeRunner(fail="E404")), _fn(code), deps)  # type: ignore[arg-type]


def test_linked_node_modules_follow_node_path_precedence(tmp_path: Path) -> None:
    from esb.build.node_tasks import LINKED_MARKER, link_modules

    deps, layer, sdk = (tmp_path / n / "node_modules" for n in ("deps", "layer", "sdk"))
    for root, names in ((deps, ["left-pad"]), (layer, ["left-pad", "greet", ".bin"]),
                        (sdk, ["@aws-sdk/client-s3", "@aws-sdk/lib-dynamodb", "greet"])):
        for name in names:
            (root / name).mkdir(parents=True)
            (root / name / "owner").write_text(root.parent.name)
    farm = tmp_path / "fn" / "node_modules"
    link_modules(farm, [deps, tmp_path / "missing", layer, sdk])
    owners = {rel: (farm / rel / "owner").read_text() for rel in ("left-pad", "greet", "@aws-sdk/client-s3")}
    assert owners == {"left-pad": "deps", "greet": "layer", "@aws-sdk/client-s3": "sdk"}
    assert (farm / "@aws-sdk" / "lib-dynamodb").is_symlink() and not (farm / ".bin").exists()
    assert (farm / LINKED_MARKER).is_file()
    link_modules(farm, [sdk])  # a rebuild replaces the links: nothing of the old roots stays
    assert not (farm / "left-pad").exists() and (farm / "greet" / "owner").read_text() == "sdk"
