"""Doit tasks that drive a running box: up, down, reset, logs, status, watch."""

from __future__ import annotations

from typing import Any

from esb.tasks.context import current
from esb.tasks.report import guarded


def _flag(name: str, short: str = "", help: str = "") -> dict[str, Any]:
    return {"name": name, "long": name.replace("_", "-"), "short": short, "type": bool, "default": False, "help": help}


def _option(name: str, default: str = "", help: str = "", choices: tuple[str, ...] = ()) -> dict[str, Any]:
    param = {"name": name, "long": name.replace("_", "-"), "type": str, "default": default, "help": help}
    if choices:
        param["choices"] = tuple((c, "") for c in choices)
    return param


# Doit task params; the CLI builds its argparse options from these, so a new option is added here only.
PARAMS: dict[str, list[dict[str, Any]]] = {
    "up": [
        _flag("build", help="build before starting"),
        _flag("detach", "d", "start in the background and return"),
        _option("engine", "auto", "sandbox engine (compose: the seed's whole compose stack)",
                ("auto", "process", "docker", "compose")),
        _flag("watch", help="rebuild and reload on changes"),
    ],
    "down": [_flag("volumes", "v", "also delete stored data")],
    "reset": [_flag("yes", "y", "do not ask for confirmation")],
    "logs": [
        _flag("follow", help="keep printing new records"),
        _option("since", help="only records newer than this (e.g. 10m, 2024-01-01T00:00:00Z)"),
        _option("trace", help="only records of this trace id"),
        _option("request", help="only records of this request id"),
        _option("grep", help="only records whose message contains this text"),
        _flag("json", help="print raw JSON records"),
    ],
    "status": [_flag("json", help="print JSON")],
    "watch": [],
}
POS_ARGS = {"logs": "function"}  # `esb logs FUNCTION`
# These work from the box's recorded state: their actions get the project, never the loaded template.
PROJECT_ONLY = ("down", "status", "logs")


def _action(command: str) -> Any:
    # Imported lazily: the box actions pull in httpx and the runtime, which a build does not need.
    from esb import commands

    return getattr(commands, f"{command}_command")


def _task(command: str, doc: str, task_dep: tuple[str, ...] = ()) -> dict[str, Any]:
    ctx = current()
    task: dict[str, Any] = {
        "actions": [(guarded(_action(command)), [ctx.project if command in PROJECT_ONLY else ctx])],
        "params": PARAMS[command],
        "uptodate": [False],
        "verbosity": 2,
        "doc": doc,
        "task_dep": list(task_dep),
    }
    if command in POS_ARGS:
        task["pos_arg"] = POS_ARGS[command]
    return task


def task_up() -> dict[str, Any]:
    """Start the box: stores, manager and gateway."""
    return _task("up", task_up.__doc__ or "", ("build", "rie"))


def task_down() -> dict[str, Any]:
    """Stop the box."""
    return _task("down", task_down.__doc__ or "")


def task_reset() -> dict[str, Any]:
    """Delete all stored data and start the box from a clean build."""
    return _task("reset", task_reset.__doc__ or "", ("rie",))


def task_logs() -> dict[str, Any]:
    """Print the box's log records."""
    return _task("logs", task_logs.__doc__ or "")


def task_status() -> dict[str, Any]:
    """Show functions, routes, sandboxes and URLs of the box."""
    return _task("status", task_status.__doc__ or "")


def task_watch() -> dict[str, Any]:
    """Rebuild and reload the box when the template or code changes."""
    return _task("watch", task_watch.__doc__ or "")
