"""Run the build's doit tasks in-process: the one place the toolchain drives doit."""

from __future__ import annotations

from typing import Any

from esb.build import context
from esb.build.app_tasks import task_build, task_compose, task_config, task_runtime
from esb.build.context import BuildContext
from esb.build.function_tasks import task_deps, task_dockerfile, task_image, task_stage
from esb.build.image_tasks import task_base_image
from esb.build.node_tasks import task_node_base_image, task_node_runtime
from esb.build.rie_task import task_rie

BUILD_TASK_CREATORS: dict[str, Any] = {
    creator.__name__: creator
    for creator in (task_base_image, task_build, task_compose, task_config, task_deps, task_dockerfile,
                    task_image, task_node_base_image, task_node_runtime, task_rie, task_runtime, task_stage)
}


def run_doit(ctx: BuildContext, doit_args: list[str], ran_tasks: list[str] | None = None) -> int:
    """Run doit over the build tasks with this context's DOIT_CONFIG; `ran_tasks` receives the names of
    the tasks that ran (as doit's reporter saw them)."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    namespace = {**BUILD_TASK_CREATORS, "DOIT_CONFIG": context.doit_config(ctx, ran_tasks)}
    outer = context.use(ctx)
    try:
        return DoitMain(ModuleTaskLoader(namespace)).run(doit_args)
    finally:
        context.use(outer)  # a run nested in a task (`doit up` building images) keeps the outer context
