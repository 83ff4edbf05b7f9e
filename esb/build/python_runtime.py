"""Lambda's Python runtime environment for the process engine: awslambdaric + the pinned SDK on a host interpreter,
built offline from the docker base image's wheels, cached content-hashed, staged per box; nothing of the box."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from esb.errors import BuildError
from esb.build.images import (SANDBOX_REQUIREMENTS, closest_version, compile_site, ensure_wheels, install_wheels,
                              run_command, wheels_key)
from esb.build.node_runtime import mirror_cached
from esb.paths import P
from esb.seams import CommandRunner
from esb_runtime.contract import PYTHON_BOOTSTRAP, PythonRecord, write_python_record

# Where the box looks for `python3.N` (the sandbox user's PATH: never a pyenv shim or a venv of the box).
SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
BOOTSTRAP = P.runtime_pkg / "sandbox" / "bootstrap.py"
KEY_FILE = ".esb-key"
# `esb invoke -d`: the debugger's server, in an overlay of its own (never in the environment functions run in).
DEBUG_REQUIREMENTS = ("debugpy==1.8.22",)
STRICT_HINT = "install python{v} or name it in generator.yml: `python: {{interpreters: {{\"{v}\": /path/to/python{v}}}}}`"

Which = Callable[..., "str | None"]


def is_python(runtime: str) -> bool:
    return re.fullmatch(r"python3\.\d+", runtime) is not None


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # "3.11"


def own_interpreter() -> tuple[str, str]:
    """The interpreter the toolchain runs on, outside any venv (a venv's python would bring the venv's packages)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return f"{sys.version_info[0]}.{sys.version_info[1]}", os.path.realpath(base)


def find_interpreters(explicit: Mapping[str, str] | None = None, search_path: str = SEARCH_PATH,
                      which: Which = shutil.which, own: tuple[str, str] | None = None) -> dict[str, str]:
    """version -> interpreter: `python3.N` on the system path (else, for its version, the toolchain's own, e.g. a
    pyenv one, which unprivileged sandbox users may not reach), then generator.yml `python.interpreters`."""
    found = {f"3.{minor}": which(f"python3.{minor}", path=search_path) for minor in range(8, 20)}
    available = {version: path for version, path in found.items() if path}
    version, path = own or own_interpreter()
    available.setdefault(version, path)
    for version, path in (explicit or {}).items():
        if not os.access(path, os.X_OK):
            raise BuildError(f"generator.yml python.interpreters names {path} for {version}: not an executable",
                             hint=f"give the path of a python{version} interpreter")
        available[version] = path
    return available


def choose(runtime: str, available: Mapping[str, str], *, strict: bool) -> tuple[Interpreter, str | None]:
    """The interpreter for `runtime`: its own version, else (not strict) the closest one and a warning."""
    want = runtime.removeprefix("python")
    if want in available:
        return Interpreter(available[want], want), None
    if strict or not available:
        why = "generator.yml sets python.strict" if strict and available else "no Python 3 interpreter was found"
        raise BuildError(f"{runtime}: no python{want} on this host ({why})", hint=STRICT_HINT.format(v=want))
    closest = closest_version(want, list(available))
    note = (f"{runtime} functions run on Python {closest} ({available[closest]}): this host has no python{want} "
            f"(AWS_EXECUTION_ENV says python{closest}); {STRICT_HINT.format(v=want)}, or set python.strict")
    return Interpreter(available[closest], closest), note


def environment_key(version: str, bootstrap: Path = BOOTSTRAP) -> str:
    """Names one environment: the wheels (pins + platform + CPython version) and the bootstrap's bytes."""
    digest = hashlib.sha256(f"python{version}|{wheels_key(version)}|".encode())
    digest.update(bootstrap.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PythonRuntime:
    path: Path  # site/ (awslambdaric, boto3, ...) and bootstrap/esb_bootstrap.py
    key: str


def ensure_python_runtime(cache: Path, interpreter: Interpreter, run: CommandRunner = run_command,
                          bootstrap: Path = BOOTSTRAP) -> PythonRuntime:
    """The cached environment for the interpreter's version; installed from the pinned wheels only when missing."""
    key = environment_key(interpreter.version, bootstrap)

    def add_bootstrap(work: Path) -> None:
        (work / PYTHON_BOOTSTRAP).parent.mkdir(parents=True)
        shutil.copyfile(bootstrap, work / PYTHON_BOOTSTRAP)

    path = cached_site(cache, "python-runtime", key, interpreter, SANDBOX_REQUIREMENTS, "ric", run,
                       add_bootstrap, hint="the first build needs PyPI once; later builds are offline")
    return PythonRuntime(path=path, key=key)


def ensure_debug_overlay(cache: Path, interpreter: Interpreter, run: CommandRunner = run_command) -> Path:
    """debugpy alone, as a site dir for the interpreter's version that `esb invoke -d` puts after the Lambda
    environment's own: the function sees what it sees in normal runs, plus debugpy. Cached; built only when
    debugging, from a wheel downloaded once."""
    key = hashlib.sha256(f"python{interpreter.version}|{wheels_key(interpreter.version, DEBUG_REQUIREMENTS)}".encode())
    name = key.hexdigest()[:16]
    path = cached_site(cache, "python-debug", name, interpreter, DEBUG_REQUIREMENTS, "debug", run,
                       hint=f"the first debug session on Python {interpreter.version} needs PyPI once")
    return path / "site"


def cached_site(cache: Path, folder: str, key: str, interpreter: Interpreter, requirements: Sequence[str], kind: str,
                run: CommandRunner, fill: Callable[[Path], None] | None = None, *, hint: str) -> Path:
    """`<cache>/<folder>/<key>` holding `site/` with `requirements` installed (from wheels downloaded once) and
    compiled by the interpreter, plus what `fill` adds; built in a temporary dir beside it, so a half-built one
    is never used."""
    dest = cache / folder / key
    if (dest / KEY_FILE).is_file():
        return dest
    wheels = ensure_wheels(cache, run, interpreter.version, requirements, kind)
    if not wheels:
        raise BuildError(f"no wheels for Python {interpreter.version} in {cache / 'wheels'}", hint=hint)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.parent.name}-", dir=dest.parent))
    try:
        install_wheels(wheels[0].parent, work / "site", run, interpreter.version, requirements)
        if fill is not None:
            fill(work)
        compile_site(interpreter.path, work, run)
        (work / KEY_FILE).write_text(key + "\n")
        os.chmod(work, 0o755)  # mkdtemp made it 0700; sandboxes run as unprivileged users must read it
        if not dest.exists():  # else a concurrent build finished first: keep its copy
            os.replace(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def stage_python_runtime(runtime: PythonRuntime, dest: Path, interpreter: Interpreter, declared: str,
                         note: str | None) -> bool:
    """Mirror the environment into the output tree and record which interpreter runs it; True when re-staged."""
    changed = mirror_cached(runtime.path, runtime.key, dest, KEY_FILE)
    record = PythonRecord(python=interpreter.path, version=interpreter.version, runtime=declared, note=note)
    return write_python_record(dest, record) or changed
