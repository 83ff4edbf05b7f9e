"""The sandbox engine seam: the process engine, the docker engine and the test fake implement it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

# Called with every line a sandbox writes (RIE + runtime + handler output), without the newline.
LineSink = Callable[[str], None]


@dataclass(frozen=True)
class ImageConfig:
    """ImageConfig of a container-image function; empty values keep what the image says."""

    command: tuple[str, ...] = ()
    entry_point: tuple[str, ...] = ()
    working_directory: str | None = None


@dataclass(frozen=True)
class SandboxSpec:
    """Everything an engine needs to start one sandbox of one function."""

    function: str  # physical function name
    config_hash: str  # changes whenever config or code changes; a sandbox never outlives its hash
    handler: str
    runtime: str
    code_dir: Path
    deps_dir: Path | None
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]  # complete Lambda environment, store endpoints and credentials included
    memory_mb: int
    timeout_s: int
    image: str | None = None  # docker engine: the function image tag
    runtime_dir: Path | None = None  # Node.js: the staged runtime environment (aws-lambda-ric, AWS SDK v3)
    package_type: str = "Zip"  # Image: a container-image function (docker engine only)
    image_config: ImageConfig | None = None  # Image: ImageConfig overrides of the image's CMD/ENTRYPOINT/WORKDIR
    debug_port: int | None = None  # `esb invoke -d`: the runtime waits under debugpy on 127.0.0.1:<port>
    debug_site: Path | None = None  # with debug_port: debugpy's overlay, after the Lambda environment on sys.path


@dataclass
class Sandbox:
    """A started sandbox. `invoke_url` is the RIE's invocation endpoint."""

    id: str
    function: str
    config_hash: str
    invoke_url: str
    started_at: float
    ref: object = field(default=None, repr=False)  # engine-private handle (Popen group, container)


class Engine(Protocol):
    name: str

    def start(self, spec: SandboxSpec, on_line: LineSink) -> Sandbox:
        """Start a sandbox and return once its RIE accepts connections; raise EngineError otherwise."""
        ...

    def stop(self, sandbox: Sandbox) -> None:
        """Stop the sandbox and everything it started; idempotent."""
        ...

    def alive(self, sandbox: Sandbox) -> bool:
        ...

    def adopt(self, specs: dict[str, SandboxSpec], on_line: Callable[[str], LineSink]) -> list[Sandbox]:
        """Re-attach to sandboxes left by a previous manager whose config hash is current;
        remove stale ones. Engines with nothing to adopt return []."""
        ...

    def limits_note(self) -> str | None:
        """A human note on limits that could not be applied (e.g. no writable cgroup), else None."""
        ...
