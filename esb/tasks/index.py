"""Index of esb's doit tasks for a project's own dodo.py (`from esb.tasks.index import *`)."""

from __future__ import annotations

from typing import Any

from esb.tasks.box import task_down, task_logs, task_reset, task_status, task_up, task_watch
from esb.tasks.config import task_build, task_compose, task_config, task_runtime
from esb.tasks.functions import task_deps, task_dockerfile, task_image, task_stage
from esb.tasks.images import task_base_image
from esb.tasks.node import task_node_base_image, task_node_runtime
from esb.tasks.rie import task_rie

__all__ = [
    "DOIT_CONFIG",
    "task_base_image",
    "task_build",
    "task_compose",
    "task_config",
    "task_deps",
    "task_dockerfile",
    "task_down",
    "task_image",
    "task_logs",
    "task_node_base_image",
    "task_node_runtime",
    "task_reset",
    "task_rie",
    "task_runtime",
    "task_stage",
    "task_status",
    "task_up",
    "task_watch",
]


def task_creators() -> dict[str, Any]:
    """The task creators by name (the CLI hands them to doit with its own DOIT_CONFIG)."""
    return {name: globals()[name] for name in __all__ if name.startswith("task_")}


def __getattr__(name: str) -> Any:
    # Computed on first access (when doit reads it), not at import: it discovers the project.
    if name == "DOIT_CONFIG":
        from esb.tasks.context import current, doit_config

        return doit_config(current())
    raise AttributeError(name)
