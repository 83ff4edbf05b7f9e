"""The doit face for a project's own dodo.py: the task index and the box commands as doit tasks."""
