"""Acquire the genuine AWS Lambda RIE: ESB_RIE_PATH, else the cache, else pip download of aws-sam-cli."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Sequence

from esb.errors import BuildError
from esb_runtime.digest import sha256_file
from esb.seams import ProcessRunner

SAM_VERSION = "1.170.0"
WHEEL_NAME = f"aws_sam_cli-{SAM_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf"
BINARY_SHA256 = {
    "x86_64": "6b1e686e62ab2baf5759c412c4864276ef2a88b094fca53ec070637ccba9b9a5",
    "arm64": "ec2e5d09633d853834c008b1ef264bf834b258a94d551d2b2074966494b39a21",
}
OFFLINE_HINT = "for offline sites, set ESB_RIE_PATH to an aws-lambda-rie binary"



def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=600)


def host_arch(machine: str | None = None) -> str:
    value = (machine or platform.machine()).lower()
    if value in ("x86_64", "amd64"):
        return "x86_64"
    if value in ("aarch64", "arm64"):
        return "arm64"
    raise BuildError(f"no AWS Lambda RIE exists for this CPU ({value})", hint=OFFLINE_HINT)


def cached_path(cache_dir: Path, arch: str) -> Path:
    return cache_dir / "rie" / SAM_VERSION / f"aws-lambda-rie-{arch}"


def cache_valid(cache_dir: Path, arch: str) -> bool:
    path = cached_path(cache_dir, arch)
    return path.is_file() and sha256_file(path) == BINARY_SHA256[arch]


def _download_wheel(workdir: Path, runner: ProcessRunner) -> Path:
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            f"aws-sam-cli=={SAM_VERSION}", "-d", str(workdir)]
    try:
        result = runner(argv)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot run pip to fetch the AWS Lambda RIE: {exc}", hint=OFFLINE_HINT) from exc
    wheel = workdir / WHEEL_NAME
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise BuildError(f"pip could not download aws-sam-cli=={SAM_VERSION}: {last[0]}", hint=OFFLINE_HINT)
    if sha256_file(wheel) != WHEEL_SHA256:
        raise BuildError(f"{WHEEL_NAME}: sha256 mismatch (the package index served different bytes)",
                         hint=OFFLINE_HINT)
    return wheel


def _extract(wheel: Path, arch: str, target: Path) -> None:
    member = f"samcli/local/rapid/aws-lambda-rie-{arch}"
    target.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name in the same directory makes the final rename atomic.
    fd, tmp_name = tempfile.mkstemp(prefix=".rie-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as archive:
            with archive.open(member) as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    out.write(chunk)
        if sha256_file(tmp) != BINARY_SHA256[arch]:
            raise BuildError(f"{member}: sha256 mismatch inside {WHEEL_NAME}", hint=OFFLINE_HINT)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    except KeyError as exc:
        raise BuildError(f"{WHEEL_NAME} has no {member}", hint=OFFLINE_HINT) from exc
    finally:
        tmp.unlink(missing_ok=True)


def ensure_rie(cache_dir: Path, arch: str | None = None, runner: ProcessRunner = _run,
               explicit: str | None = None) -> Path:
    """The RIE binary path. `explicit` is the ESB_RIE_PATH value, read by the caller at its edge."""
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BuildError(f"ESB_RIE_PATH={explicit} is not an executable file",
                             hint="point it at aws-lambda-rie-x86_64 or -arm64")
        return path
    arch = arch or host_arch()
    if arch not in BINARY_SHA256:
        raise BuildError(f"no AWS Lambda RIE for architecture {arch}", hint=OFFLINE_HINT)
    target = cached_path(cache_dir, arch)
    if cache_valid(cache_dir, arch):
        return target
    with tempfile.TemporaryDirectory(prefix="esb-rie-") as tmp:
        _extract(_download_wheel(Path(tmp), runner), arch, target)
    return target
