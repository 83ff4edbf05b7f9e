"""The box commands' options: the CLI builds argparse from them, the doit tasks take them as params."""

from __future__ import annotations

from typing import Any


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
        # Empty default: generator.yml `engine:` decides, else auto.
        _option("engine", "", "sandbox engine (default: generator.yml `engine:`, else auto; compose: the seed's "
                "whole compose stack)", ("auto", "process", "docker", "compose")),
        _flag("watch", help="rebuild and reload on changes"),
        _flag("quiet", "q", "in the foreground, do not print a line per request"),
        _flag("debug", help="keep the Lambda emulator's debug lines in the logs (`esb logs --level debug`)"),
    ],
    "down": [_flag("volumes", "v", "also delete stored data")],
    "reset": [_flag("yes", "y", "do not ask for confirmation")],
    "logs": [
        _flag("follow", "f", "keep printing new records"),
        _option("level", "info", "only records at this level or above (debug shows the emulator's own lines)",
                ("debug", "info", "warn", "error")),
        _option("since", help="only records newer than this (e.g. 10m, 2024-01-01T00:00:00Z)"),
        _option("trace", help="only records of this trace id"),
        _option("request", help="only records of this request id"),
        _option("grep", help="only records whose message contains this text"),
        _flag("json", help="print raw JSON records"),
    ],
    "status": [_flag("json", help="print JSON")],
    "env": [_flag("http", help="the plain-HTTP endpoint (ports.aws_http) instead of HTTPS with the CA")],
    "watch": [],
}
POS_ARGS = {"logs": "function"}  # `esb logs FUNCTION`
# These work from the box's recorded state: their actions get the project, never the loaded template.
PROJECT_ONLY = ("down", "status", "logs", "env")
# What each box command needs built first (doit tasks run before the command's body).
BUILD_FIRST: dict[str, tuple[str, ...]] = {"up": ("build", "rie"), "reset": ("rie",), "watch": ()}
