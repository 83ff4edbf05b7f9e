"""Index of esb's doit tasks for a project's own dodo.py (`from esb.tasks.index import *`): the build's
tasks (as the CLI runs them) plus the box commands as thin doit wrappers, bound to the project found from cwd."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from esb.build.runner import BUILD_TASK_NAMES
from esb.tasks.box import BoxTasks

__all__ = ["DOIT_CONFIG", *sorted({*BUILD_TASK_NAMES, *(n for n in dir(BoxTasks) if n.startswith("task_"))})]


@lru_cache(maxsize=1)
def _namespace() -> dict[str, Any]:
    # One discovered context per process: a plain `doit` run is one project (the CLI never comes here).
    from esb.build.context import discover_context
    from esb.build.tasks import BuildTasks

    ctx = discover_context()
    return {**BuildTasks(ctx).namespace(), **BoxTasks(ctx).creators()}


def __getattr__(name: str) -> Any:
    # Computed on first access (when the dodo file imports them), not at import of this module.
    if name in __all__:
        return _namespace()[name]
    raise AttributeError(name)
