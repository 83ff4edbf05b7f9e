"""Every path the toolchain uses: sources of this repository (P) and the output tree (BuildTree)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class _Sources:
    """Paths inside this repository (the toolchain's own inputs)."""

    repo: Path = REPO
    templates: Path = REPO / "templates"
    runtime: Path = REPO / "runtime"
    runtime_pkg: Path = REPO / "runtime" / "esb_runtime"
    fixtures: Path = REPO / "fixtures"
    sample: Path = REPO / "fixtures" / "sample"
    sample_template: Path = REPO / "fixtures" / "sample" / "template.yaml"
    config: Path = REPO / "config"


P = _Sources()


def cache_dir() -> Path:
    """Per-user cache shared by every project (RIE binaries, wheels, base images)."""
    explicit = os.environ.get("ESB_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "esb"


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
    def stores_config(self) -> Path:
        return self.config / "stores.yml"

    @property
    def compose(self) -> Path:
        return self.root / "docker-compose.yml"

    @property
    def functions(self) -> Path:
        return self.root / "functions"

    def function(self, name: str) -> Path:
        return self.functions / name

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
