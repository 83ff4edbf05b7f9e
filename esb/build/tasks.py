"""The build's doit task creators, bound to one build context: doit's loader takes bound methods named task_*,
so each run (even one nested in another, as `doit up` building images) has its own context and no global."""

from __future__ import annotations

from typing import Any, Iterator

from esb.build import app_tasks, function_tasks, node_tasks, python_tasks
from esb.build.context import BuildContext, doit_config
from esb.build.image_tasks import base_image_task
from esb.build.plan import app_outputs
from esb.build.rie_task import rie_task
from esb.paths import cache_dir


class BuildTasks:
    """One docstring per creator: it is what `doit list` shows."""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx

    def task_config(self) -> dict[str, Any]:
        """Render config/routing.yml and config/functions.yml."""
        return app_tasks.config_task(self.ctx, app_outputs(self.ctx))

    def task_compose(self) -> dict[str, Any]:
        """Render docker-compose.yml and the gateway and manager Dockerfiles."""
        return app_tasks.compose_task(self.ctx, app_outputs(self.ctx))

    def task_runtime(self) -> dict[str, Any]:
        """Copy runtime/esb_runtime into the output tree (changed files only)."""
        return app_tasks.runtime_task(self.ctx)

    def task_node_runtime(self) -> dict[str, Any]:
        """Install the Node.js runtime environment (aws-lambda-ric + AWS SDK v3) once and stage it."""
        return node_tasks.node_runtime_task(self.ctx)

    def task_python_runtime(self) -> dict[str, Any]:
        """Build Lambda's Python environment (awslambdaric + pinned boto3) per runtime, offline, and stage it."""
        return python_tasks.python_runtime_task(self.ctx)

    def task_deps(self) -> Iterator[dict[str, Any]]:
        """Install each function's requirements.txt into functions/<Name>/deps."""
        return function_tasks.deps_tasks(self.ctx)

    def task_stage(self) -> Iterator[dict[str, Any]]:
        """Stage each function's code and layers and write its build.json code hash."""
        return function_tasks.stage_tasks(self.ctx)

    def task_dockerfile(self) -> Iterator[dict[str, Any]]:
        """Render each function's Dockerfile."""
        return function_tasks.dockerfile_tasks(self.ctx)

    def task_build(self) -> dict[str, Any]:
        """Build the output tree: config, compose stack, runtime, and every function."""
        return app_tasks.build_task()

    def task_rie(self) -> dict[str, Any]:
        """Fetch the AWS Lambda Runtime Interface Emulator (pinned, sha256-checked)."""
        return rie_task()

    def task_base_image(self) -> dict[str, Any]:
        """Build the offline docker base images (Debian + its python3 + awslambdaric + RIE), one per Python."""
        return base_image_task(cache_dir(), versions=python_tasks.declared_versions(self.ctx))

    def task_node_base_image(self) -> dict[str, Any]:
        """Build the offline docker base image for Node.js functions (Debian trixie + Node.js + aws-lambda-ric)."""
        return node_tasks.node_base_image_task(self.ctx)

    def task_image(self) -> Iterator[dict[str, Any]]:
        """Build each function's docker image from its staged directory (needs a docker daemon)."""
        return function_tasks.image_tasks(self.ctx)

    def creators(self) -> dict[str, Any]:
        """The bound creators by name, as a dodo namespace holds them."""
        return {name: getattr(self, name) for name in dir(self) if name.startswith("task_")}

    def namespace(self, ran_tasks: list[str] | None = None) -> dict[str, Any]:
        """A dodo namespace: the creators and this context's DOIT_CONFIG."""
        return {**self.creators(), "DOIT_CONFIG": doit_config(self.ctx, ran_tasks)}
