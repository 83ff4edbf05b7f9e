"""Every path the toolchain uses: sources of this repository (P) and the output tree (BuildTree)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from esb.errors import BuildError

_ASSETS = Path(__file__).resolve().parent / "assets"
# A source checkout only (tests and benches): the installed toolchain never reads these.
REPO = Path(__file__).resolve().parent.parent


def _runtime_package() -> Path:
    # Located, not imported: the toolchain copies the runtime's files into every output tree.
    spec = find_spec("esb_runtime")
    if spec is None or spec.origin is None:
        raise RuntimeError("the esb_runtime package is not installed beside esb")
    return Path(spec.origin).parent


@dataclass(frozen=True)
class _Sources:
    """The toolchain's own inputs, installed with it (package data), plus checkout-only folders."""

    templates: Path = _ASSETS / "templates"
    sample: Path = _ASSETS / "sample"
    sample_template: Path = _ASSETS / "sample" / "template.yaml"
    runtime_pkg: Path = _runtime_package()
    fixtures: Path = REPO / "fixtures"  # checkout only
    config: Path = REPO / "config"  # checkout only


P = _Sources()


def cache_dir() -> Path:
    """Per-user cache shared by every project (RIE binaries, wheels, base images)."""
    explicit = os.environ.get("ESB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "esb"


def component(name: str) -> str:
    """`name` as one directory entry of the output tree; refuses what would lead out of it (the SAM loader
    validates names first: this is the last line, so a build never writes or deletes outside the tree)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise BuildError(f"{name!r} cannot name a directory of the output tree",
                         hint="use a name of letters, digits, - and _")
    return name


@dataclass(frozen=True)
class BuildTree:
    """Paths inside one project's output tree (default `.esb/`)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def routing(self) -> Path:
        return self.config / "routing.yml"

    @property
    def functions_config(self) -> Path:
        return self.config / "functions.yml"

    @property
    def compose(self) -> Path:
        return self.root / "docker-compose.yml"

    @property
    def functions(self) -> Path:
        return self.root / "functions"

    def function(self, name: str) -> Path:
        return self.functions / component(name)

    def function_src(self, name: str) -> Path:
        return self.function(name) / "src"

    def function_deps(self, name: str) -> Path:
        return self.function(name) / "deps"

    def function_layers(self, name: str) -> Path:
        return self.function(name) / "layers"

    def function_dockerfile(self, name: str) -> Path:
        return self.function(name) / "Dockerfile"

    def function_manifest(self, name: str) -> Path:
        """JSON written by the function's stage task: {"code_hash": ...}."""
        return self.function(name) / "build.json"

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    @property
    def node_runtime(self) -> Path:
        """The staged Node.js runtime environment (node_modules with aws-lambda-ric and the AWS SDK v3)."""
        return self.root / "runtimes" / "nodejs"

    def python_runtime(self, runtime: str) -> Path:
        """The staged Lambda Python environment of one declared runtime (python3.12: awslambdaric + boto3)."""
        return self.root / "runtimes" / component(runtime)

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def tls(self) -> Path:
        return self.secrets / "tls"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def manager_socket(self) -> Path:
        return self.state / "manager.sock"

    @property
    def doit_db(self) -> Path:
        return self.root / ".doit.db"

    @property
    def markers(self) -> Path:
        return self.state / "markers"
