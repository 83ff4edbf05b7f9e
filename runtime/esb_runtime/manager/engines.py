"""Pick the sandbox engine named by the settings."""

from __future__ import annotations

import importlib

from esb_runtime.engine import Engine
from esb_runtime.errors import EngineError
from esb_runtime.settings import RuntimeSettings


def rie_path(settings: RuntimeSettings) -> str:
    if settings.rie_path is not None:
        return str(settings.rie_path)
    try:  # a source checkout also has the toolchain, which can fetch the RIE into the user cache
        from esb.paths import cache_dir
        from esb.rie import ensure_rie
    except ImportError as exc:
        raise EngineError("ESB_RIE_PATH is not set and the RIE cannot be fetched from here") from exc
    return str(ensure_rie(cache_dir()))


def project_name(settings: RuntimeSettings) -> str:
    """Containers are labelled with the project (stack) name from functions.yml."""
    from esb_runtime.config import FunctionsConfigError, load_functions

    try:
        return load_functions(settings.config_dir / "functions.yml", settings.output_dir).project or "esb"
    except FunctionsConfigError:
        return "esb"


def create_engine(settings: RuntimeSettings) -> Engine:
    if settings.engine == "process":
        from pathlib import Path

        from esb_runtime.manager.process_engine import ProcessEngine

        return ProcessEngine(Path(rie_path(settings)))
    if settings.engine == "docker":
        try:
            module = importlib.import_module("esb_runtime.manager.docker_engine")
        except ImportError as exc:
            raise EngineError(f"the docker engine is not available here: {exc}") from exc
        return module.DockerEngine(project_name(settings))  # type: ignore[no-any-return]
    raise EngineError(f"unknown engine {settings.engine!r} (process | docker)")
