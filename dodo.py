"""Index of esb's doit tasks: `doit list` shows them, `doit build` renders the output tree."""

from esb.build.context import current, doit_config
from esb.tasks.index import *  # noqa: F401,F403 - the task creators

DOIT_CONFIG = doit_config(current())
