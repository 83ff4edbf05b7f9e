"""Lambda's Node.js runtime environment (aws-lambda-ric + AWS SDK v3): npm ci once into the cache, staged per box."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from esb.errors import BuildError
from esb.paths import P
from esb.seams import ProcessRunner

LOCK_DIR = P.templates / "node-runtime"  # package.json + package-lock.json (integrity hashes) of the pins
# Declared runtime -> the Node.js major that runs it on Lambda.
NODE_RUNTIMES = {"nodejs18.x": 18, "nodejs20.x": 20, "nodejs22.x": 22}
# Build-only parts of aws-lambda-ric: the curl and aws-lambda-cpp sources its addon links statically (~150 MB).
PRUNED = ("node_modules/aws-lambda-ric/deps", "node_modules/aws-lambda-ric/src",
          "node_modules/aws-lambda-ric/scripts", "node_modules/aws-lambda-ric/node-addon-api")
BUILD_HINT = ("the first install needs the npm registry and g++, make, cmake, autoconf, automake and libtool "
              "(aws-lambda-ric builds a native addon)")
KEY_FILE = ".esb-key"



def is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


def node_major(node: str = "node", runner: ProcessRunner = subprocess.run) -> int:
    """The host's Node.js major version (`node --version` prints v20.11.1)."""
    try:
        done = runner([node, "--version"], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot run {node} --version: {exc}", hint="install Node.js (nodejs20.x runs on Node 20)") from exc
    match = re.match(r"v(\d+)\.", done.stdout.strip())
    if match is None:
        raise BuildError(f"{node} --version printed {done.stdout.strip()!r}, not a version")
    return int(match.group(1))


def runtime_key(major: int, lock_dir: Path = LOCK_DIR, machine: str | None = None) -> str:
    """Names one installed environment: the pins, the Node major (the addon's ABI) and the CPU."""
    digest = hashlib.sha256(f"node{major}|{machine or platform.machine()}|{'|'.join(PRUNED)}".encode())
    for name in ("package.json", "package-lock.json"):
        digest.update((lock_dir / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class NodeRuntime:
    path: Path  # contains node_modules/
    key: str


def _npm_ci(workdir: Path, npm: str, runner: ProcessRunner) -> None:
    argv = [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        runner(argv, cwd=str(workdir), capture_output=True, text=True, check=True, timeout=1800)
    except subprocess.CalledProcessError as exc:
        lines = [line for line in (exc.stderr or exc.stdout or "").splitlines() if line.strip()]
        raise BuildError(f"npm ci of the Node.js runtime failed: {' | '.join(lines[-3:]) or exc.returncode}",
                         where=str(LOCK_DIR / "package-lock.json"), hint=BUILD_HINT) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot run npm: {exc}", hint=BUILD_HINT) from exc


def ensure_node_runtime(cache: Path, major: int, *, npm: str = "npm", runner: ProcessRunner = subprocess.run,
                        lock_dir: Path = LOCK_DIR) -> NodeRuntime:
    """The cached environment for Node `major`; installed (about a minute: native build) only when missing."""
    key = runtime_key(major, lock_dir)
    dest = cache / "node-runtime" / key
    if (dest / KEY_FILE).is_file():
        return NodeRuntime(path=dest, key=key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".node-runtime-", dir=dest.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(lock_dir / name, work / name)
        _npm_ci(work, npm, runner)
        for rel in PRUNED:
            shutil.rmtree(work / rel, ignore_errors=True)
        (work / KEY_FILE).write_text(key + "\n")
        os.chmod(work, 0o755)  # mkdtemp made it 0700; sandboxes run as an unprivileged user must read it
        if dest.exists():  # a concurrent build finished first: keep its copy
            return NodeRuntime(path=dest, key=key)
        os.replace(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return NodeRuntime(path=dest, key=key)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # same filesystem: no bytes copied
    except OSError:
        shutil.copy2(source, target)


def stage_node_runtime(runtime: NodeRuntime, dest: Path) -> bool:
    """Mirror the cached environment into the output tree (readable to sandboxes); False when already there."""
    return mirror_cached(runtime.path, runtime.key, dest, KEY_FILE)


def mirror_cached(source: Path, key: str, dest: Path, key_file: str) -> bool:
    """Mirror a cached, keyed environment into `dest` by hard links (copies across filesystems), unless `dest`
    already holds that key; False then. Shared by the Node.js and Python runtime environments."""
    marker = dest / key_file
    if marker.is_file() and marker.read_text().strip() == key:
        return False
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, symlinks=True, copy_function=_link_or_copy)
    os.chmod(partial, 0o755)
    os.replace(partial, dest)
    return True
