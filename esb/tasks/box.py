"""Doit tasks that drive a running box (`doit up`, `doit down`, ...): thin wrappers over esb.commands.

The `esb` CLI calls the same command bodies directly; these exist for `doit` in a project directory."""

from __future__ import annotations

from typing import Any

from esb.options import BUILD_FIRST, PARAMS, POS_ARGS, PROJECT_ONLY
from esb.build.context import BuildContext
from esb.build.report import guarded


def _action(command: str) -> Any:
    # Imported lazily: the box actions pull in httpx and the runtime, which a build does not need.
    from esb import commands

    return getattr(commands, f"{command}_command")


def _task(ctx: BuildContext, command: str, doc: str) -> dict[str, Any]:
    task: dict[str, Any] = {
        "actions": [(guarded(_action(command)), [ctx.project if command in PROJECT_ONLY else ctx])],
        "params": PARAMS[command],
        "uptodate": [False],
        "verbosity": 2,
        "doc": doc,
        "task_dep": list(BUILD_FIRST.get(command, ())),
    }
    if command in POS_ARGS:
        task["pos_arg"] = POS_ARGS[command]
    return task


class BoxTasks:
    """The box commands as doit task creators bound to one build context (see esb.build.tasks.BuildTasks)."""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx

    def task_up(self) -> dict[str, Any]:
        """Start the box: stores, manager and gateway."""
        return _task(self.ctx, "up", self.task_up.__doc__ or "")

    def task_down(self) -> dict[str, Any]:
        """Stop the box."""
        return _task(self.ctx, "down", self.task_down.__doc__ or "")

    def task_reset(self) -> dict[str, Any]:
        """Delete all stored data and start the box from a clean build."""
        return _task(self.ctx, "reset", self.task_reset.__doc__ or "")

    def task_logs(self) -> dict[str, Any]:
        """Print the box's log records."""
        return _task(self.ctx, "logs", self.task_logs.__doc__ or "")

    def task_status(self) -> dict[str, Any]:
        """Show functions, routes, sandboxes and URLs of the box."""
        return _task(self.ctx, "status", self.task_status.__doc__ or "")

    def task_watch(self) -> dict[str, Any]:
        """Rebuild and reload the box when the template or code changes."""
        return _task(self.ctx, "watch", self.task_watch.__doc__ or "")

    def creators(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in dir(self) if name.startswith("task_")}
