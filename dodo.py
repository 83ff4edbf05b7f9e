"""Index of esb's doit tasks: `doit list` shows them, `doit build` renders the output tree."""

from esb.tasks.box import task_down, task_logs, task_reset, task_status, task_up, task_watch  # noqa: F401
from esb.tasks.config import task_build, task_compose, task_config, task_runtime  # noqa: F401
from esb.tasks.context import current, doit_config
from esb.tasks.functions import task_deps, task_dockerfile, task_image, task_stage  # noqa: F401
from esb.tasks.images import task_base_image  # noqa: F401
from esb.tasks.node import task_node_base_image, task_node_runtime  # noqa: F401
from esb.tasks.rie import task_rie  # noqa: F401

DOIT_CONFIG = doit_config(current())
