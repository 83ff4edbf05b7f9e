"""Node.js sandboxes on the host: which node runs a nodejsNN.x function, its command line and Lambda's Node env."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from esb_runtime.engine import SandboxSpec
from esb_runtime.errors import EngineError

BOOTSTRAP = Path("esb_runtime") / "sandbox" / "bootstrap.mjs"  # relative to the runtime parent dir


def declared_major(runtime: str) -> int | None:
    """nodejs20.x -> 20; None for other runtimes."""
    match = re.fullmatch(r"nodejs(\d+)\.x", runtime)
    return int(match.group(1)) if match else None


def is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


@dataclass(frozen=True)
class NodeBinary:
    path: str
    major: int


def find_node(search_path: str, which: Callable[..., str | None] = shutil.which,
              runner: Callable[..., "subprocess.CompletedProcess[str]"] = subprocess.run) -> NodeBinary | None:
    """The host's `node` and its major version (`node --version` prints v20.11.1), or None."""
    binary = which("node", path=search_path)
    if binary is None:
        return None
    try:
        done = runner([binary, "--version"], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", done.stdout.strip())
    return NodeBinary(path=binary, major=int(match.group(1))) if match else None


def mismatch_note(runtime: str, node: NodeBinary) -> str | None:
    """One warning when the host's node is not the major the runtime declares (it runs anyway)."""
    want = declared_major(runtime)
    if want is None or want == node.major:
        return None
    return (f"functions declare Runtime {runtime} but the process engine runs them on the host's Node.js "
            f"{node.major} (AWS_EXECUTION_ENV says nodejs{node.major}.x)")


def node_command(node: NodeBinary, runtime_parent: Path, spec: SandboxSpec) -> list[str]:
    if spec.runtime_dir is None or not (spec.runtime_dir / "node_modules").is_dir():
        raise EngineError(f"{spec.function}: the Node.js runtime environment is missing (run `esb build`)")
    return [node.path, str(runtime_parent / BOOTSTRAP), spec.handler]


def node_path(spec: SandboxSpec, major: int) -> list[str]:
    """Lambda's NODE_PATH, with the staged directories standing in for /var/task, /opt and /var/runtime."""
    dirs: list[Path] = []
    if spec.deps_dir is not None:
        dirs.append(spec.deps_dir / "node_modules")  # `npm ci` of the function's package.json (/var/task/node_modules)
    for layer in spec.layer_dirs:
        dirs += [layer / "nodejs" / f"node{major}" / "node_modules", layer / "nodejs" / "node_modules"]
    if spec.runtime_dir is not None:
        dirs += [spec.runtime_dir / "node_modules", spec.runtime_dir]
    dirs.append(spec.code_dir)
    return [str(d) for d in dirs]


def node_environment(spec: SandboxSpec, node: NodeBinary) -> dict[str, str]:
    """What Lambda's Node.js runtime sets on top of the engine-independent environment."""
    env = {
        "NODE_PATH": os.pathsep.join(node_path(spec, node.major)),
        "LAMBDA_RUNTIME_DIR": str(spec.runtime_dir or ""),
    }
    if declared_major(spec.runtime) not in (None, node.major):
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_nodejs{node.major}.x"
    ca_bundle = spec.environment.get("AWS_CA_BUNDLE")
    if ca_bundle:
        env["NODE_EXTRA_CA_CERTS"] = ca_bundle  # the JS SDK trusts the box CA through node, not AWS_CA_BUNDLE
    return env
