"""Run the build's doit tasks in-process: the one place the toolchain drives doit."""

from __future__ import annotations

from esb.build.context import BuildContext
from esb.build.tasks import BuildTasks

BUILD_TASK_NAMES = tuple(sorted(name for name in dir(BuildTasks) if name.startswith("task_")))


def run_doit(ctx: BuildContext, doit_args: list[str], ran_tasks: list[str] | None = None) -> int:
    """Run doit over the build tasks of `ctx`; `ran_tasks` receives the names of the tasks that ran (as doit's
    reporter saw them)."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    return DoitMain(ModuleTaskLoader(BuildTasks(ctx).namespace(ran_tasks))).run(doit_args)
