"""Pure parts of the image toolchain and the docker engine: no daemon needed."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import docker.errors
import pytest

from esb.errors import BuildError
from esb.build.images import (DEFAULT_MIRROR, ROOTFS_PACKAGES, apt_mirror, context_hash, docker_errors, ensure_rootfs,
                        ensure_wheels)
from esb_runtime.engine import SandboxSpec
from esb_runtime.errors import EngineError
from esb_runtime.manager import docker_engine
from esb_runtime.manager.docker_engine import DockerEngine, _pump_lines, container_environment


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n")
    assert apt_mirror(tmp_path) == "http://mirror.example/debian"
    one_line = tmp_path / "one"
    one_line.mkdir()
    (one_line / "sources.list").write_text("deb [arch=amd64] http://old.example/debian bookworm main\n")
    assert apt_mirror(one_line) == "http://old.example/debian"
    assert apt_mirror(tmp_path / "missing") == DEFAULT_MIRROR


def test_rootfs_is_debootstrapped_once_then_cached(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def runner(argv: Sequence[str]) -> None:
        calls.append(list(argv))
        if argv[0] == "tar":
            Path(argv[argv.index("-cf") + 1]).write_bytes(b"tar")

    first = ensure_rootfs(tmp_path, "http://m/debian", runner)
    second = ensure_rootfs(tmp_path, "http://m/debian", runner)
    assert first == second and first.read_bytes() == b"tar"
    assert [c[0] for c in calls] == ["debootstrap", "tar"]
    assert f"--include={','.join(ROOTFS_PACKAGES)}" in calls[0] and calls[0][-1] == "http://m/debian"
    assert not list(tmp_path.glob("images/rootfs-*/"))  # the debootstrap work dir is gone


def test_failed_debootstrap_leaves_no_tarball(tmp_path: Path) -> None:
    def runner(argv: Sequence[str]) -> None:
        raise BuildError("debootstrap failed")

    with pytest.raises(BuildError):
        ensure_rootfs(tmp_path, "http://m/debian", runner)
    assert not list((tmp_path / "images").glob("*.tar"))


def test_wheels_are_downloaded_once(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def runner(argv: Sequence[str]) -> None:
        calls.append(list(argv))
        Path(argv[argv.index("-d") + 1], "awslambdaric-4.2.2-cp311-x.whl").write_bytes(b"w")

    assert [w.name for w in ensure_wheels(tmp_path, runner)] == ["awslambdaric-4.2.2-cp311-x.whl"]
    ensure_wheels(tmp_path, runner)
    assert len(calls) == 1 and "--only-binary=:all:" in calls[0]


def test_context_hash_covers_bytes_names_and_modes_but_not_records(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("a")
    base = context_hash(tmp_path)
    (tmp_path / "image.json").write_text("{}")
    assert context_hash(tmp_path) == base
    (tmp_path / "src" / "app.py").chmod(0o755)
    assert context_hash(tmp_path) != base
    assert context_hash(tmp_path, "base-id-1") != context_hash(tmp_path, "base-id-2")


def test_docker_errors_become_build_errors() -> None:
    with pytest.raises(BuildError, match="build x: boom"):
        with docker_errors("build x"):
            raise docker.errors.APIError("boom", explanation="boom")
    with pytest.raises(BuildError, match="cannot talk to the docker daemon"):
        with docker_errors("build x"):
            raise docker.errors.DockerException("no socket")


def test_engine_translates_docker_errors() -> None:
    with pytest.raises(EngineError, match="cannot talk"):
        with docker_engine.docker_errors("start"):
            raise docker.errors.DockerException("no socket")


def test_log_chunks_become_lines() -> None:
    lines: list[str] = []
    _pump_lines([b"START a\nEND", b" a\r\nREP", b"ORT x\n", b"tail"], lines.append)
    assert lines == ["START a", "END a", "REPORT x", "tail"]


def test_image_record_is_the_fallback_for_a_spec_without_image(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    spec = SandboxSpec(function="f", config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=tmp_path / "src", deps_dir=None, layer_dirs=(), environment={}, memory_mb=128,
                       timeout_s=3)
    with pytest.raises(EngineError, match="no function image"):
        DockerEngine.image_for(spec)
    (tmp_path / "image.json").write_text('{"tag": "esb/p/f:abc", "id": "sha256:1"}')
    assert DockerEngine.image_for(spec) == "esb/p/f:abc"


def test_container_environment_points_loopback_endpoints_at_the_host(tmp_path: Path) -> None:
    spec = SandboxSpec(function="f", config_hash="h", handler="app.handler", runtime="python3.11",
                       code_dir=tmp_path, deps_dir=None, layer_dirs=(), memory_mb=256, timeout_s=7,
                       environment={"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000",
                                    "AWS_ENDPOINT_URL_DYNAMODB": "http://localhost:8000/",
                                    "AWS_ENDPOINT_URL_LAMBDA": "https://gw.example:8443", "OTHER": "127.0.0.1"})
    env = container_environment(spec)
    assert env["AWS_ENDPOINT_URL_S3"] == "http://host.docker.internal:9000"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://host.docker.internal:8000/"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "https://gw.example:8443"
    assert env["OTHER"] == "127.0.0.1"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"


def test_each_python_version_gets_debians_own_base_or_the_closest_with_a_warning(tmp_path: Path) -> None:
    from esb.build.images import BaseRecipe, base_python

    assert base_python("3.11") == ("3.11", None) and base_python("3.13") == ("3.13", None)
    for declared, closest in (("3.12", "3.13"), ("3.10", "3.11"), ("3.9", "3.11"), ("3.14", "3.13")):
        version, note = base_python(declared)
        assert version == closest and note is not None and f"python{declared}" in note and "\n" not in note
    rie = tmp_path / "rie"
    rie.write_bytes(b"rie")
    bookworm, trixie = BaseRecipe(rie=rie, wheels=(), runtime_files=()), BaseRecipe(rie, (), (), python_version="3.13")
    assert (bookworm.suite, trixie.suite) == ("bookworm", "trixie")
    assert bookworm.tag().startswith("esb/base-python:3.11-") and trixie.tag().startswith("esb/base-python:3.13-")
    assert bookworm.digest() != trixie.digest()
