"""Index of esb's doit tasks: `doit list` shows them, `doit build` renders the output tree."""

from esb.tasks.index import *  # noqa: F401,F403 - the task creators and DOIT_CONFIG
