"""Index of esb's doit tasks for a project's own dodo.py (`from esb.tasks.index import *`): the build's
tasks (as the CLI runs them) plus the box commands as thin doit wrappers."""

from __future__ import annotations

from typing import Any

from esb.tasks.box import task_down, task_logs, task_reset, task_status, task_up, task_watch
from esb.build.runner import BUILD_TASK_CREATORS

_BOX_TASKS = (task_down, task_logs, task_reset, task_status, task_up, task_watch)
globals().update(BUILD_TASK_CREATORS)
__all__ = ["DOIT_CONFIG", *sorted([*BUILD_TASK_CREATORS, *(task.__name__ for task in _BOX_TASKS)])]


def __getattr__(name: str) -> Any:
    # Computed on first access (when doit reads it), not at import: it discovers the project.
    if name == "DOIT_CONFIG":
        from esb.build.context import current, doit_config

        return doit_config(current())
    raise AttributeError(name)
