"""Pick the sandbox engine named by the settings."""

from __future__ import annotations

from pathlib import Path

from esb_runtime.contract import rie_log_level
from esb_runtime.engine import Engine
from esb_runtime.errors import EngineError
from esb_runtime.settings import RuntimeSettings


def rie_path(settings: RuntimeSettings) -> Path:
    # `esb up` fetches and verifies the RIE and hands its path down; the runtime never reaches for the toolchain.
    if settings.rie_path is None:
        raise EngineError("ESB_RIE_PATH is not set: the process engine needs the aws-lambda-rie binary")
    return settings.rie_path


def project_name(settings: RuntimeSettings) -> str:
    """Containers are labelled with the project (stack) name from functions.yml."""
    from esb_runtime.config import FunctionsConfigError, load_functions

    try:
        return load_functions(settings.config_dir / "functions.yml", settings.output_dir).project or "esb"
    except FunctionsConfigError:
        return "esb"


def create_engine(settings: RuntimeSettings) -> Engine:
    if settings.engine == "process":
        from esb_runtime.manager.process_engine import ProcessEngine
        from esb_runtime.manager.registry import SandboxRegistry

        return ProcessEngine(rie_path(settings), registry=SandboxRegistry.of_box(settings.state_dir),
                             die_with_manager=True, rie_log_level=rie_log_level(settings.debug))
    if settings.engine == "docker":
        from esb_runtime.manager.docker_engine import DockerEngine

        return DockerEngine(project_name(settings), rie_log_level=rie_log_level(settings.debug))
    raise EngineError(f"unknown engine {settings.engine!r} (process | docker)")
