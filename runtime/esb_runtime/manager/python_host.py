"""Python functions on the process engine: the staged Lambda environment (runtimes/python3.N) the build recorded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from esb_runtime.contract import PYTHON_BOOTSTRAP, read_python_record
from esb_runtime.engine import SandboxSpec


@dataclass(frozen=True)
class PythonHost:
    """One staged environment: the interpreter that runs it and the packages it holds."""

    python: str
    version: str  # "3.11": what actually runs (AWS_EXECUTION_ENV says so)
    root: Path  # runtimes/python3.N: site/ and bootstrap/
    note: str | None = None  # set when the declared runtime's own version was not available

    @property
    def site(self) -> Path:
        return self.root / "site"


def read_host(runtime_dir: Path | None) -> PythonHost | None:
    """The recorded environment, or None (a tree built before environments existed: the engine's own way)."""
    record = None if runtime_dir is None else read_python_record(runtime_dir)
    if record is None or runtime_dir is None or not (runtime_dir / PYTHON_BOOTSTRAP).is_file():
        return None
    return PythonHost(python=record.python, version=record.version, root=runtime_dir, note=record.note)


def python_command(host: PythonHost, handler: str, debugger: Sequence[str] = ()) -> list[str]:
    # -S: no site-packages at all (the interpreter's own, Debian's dist-packages, a venv's): only what Lambda has.
    return [host.python, "-S", *debugger, str(host.root / PYTHON_BOOTSTRAP), handler]


def python_environment(spec: SandboxSpec, host: PythonHost) -> dict[str, str]:
    """Lambda's sys.path order over the staged tree: code, its deps, its layers, then the runtime's packages."""
    paths = [str(spec.code_dir)]
    if spec.deps_dir is not None:
        paths.append(str(spec.deps_dir))
    paths += [str(layer / "python") for layer in spec.layer_dirs]
    paths.append(str(host.site))
    if spec.debug_port is not None and spec.debug_site is not None:
        paths.append(str(spec.debug_site))  # last: debugpy shadows nothing the function imports
    return {
        "PYTHONPATH": os.pathsep.join(paths),
        "LAMBDA_RUNTIME_DIR": str(host.root),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{host.version}",
    }
