"""`esb logs`: query or follow the box's log store and print records as text or JSON lines."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, TextIO

from esb.box import state as boxstate
from esb.errors import ConfigError
from esb.paths import BuildTree
from esb_runtime.logs.factory import open_store
from esb_runtime.logs.stores import LogQuery, LogStore, parse_time, trace_root
from esb_runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from esb.project import Project

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str | None, now: datetime) -> datetime | None:
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    moment = parse_time(text.strip())
    if moment is None:
        raise ConfigError(f"--since {text!r} is neither a duration nor a time",
                          hint="use e.g. 10m, 1h, 2d or 2024-05-01T12:00:00Z")
    return moment


def build_query(args: Any, now: datetime) -> LogQuery:
    trace = getattr(args, "trace", None)
    return LogQuery(
        function=getattr(args, "function", None) or None,
        since=parse_since(getattr(args, "since", None), now),
        trace=trace_root(trace) if trace else None,
        request_id=getattr(args, "request", None) or None,
        grep=getattr(args, "grep", None) or None,
        limit=getattr(args, "limit", None) or None,
    )


LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40, "fatal": 50, "critical": 50}


def at_least(level: str | None) -> Callable[[dict], bool]:
    """A record filter for `--level`: records without a level count as info."""
    floor = LEVELS.get(level or "debug", 10)
    return lambda record: LEVELS.get(str(record.get("level") or "info").lower(), 20) >= floor


def known_function(tree: BuildTree, name: str) -> str:
    """The physical name `esb logs NAME` means (a logical id is accepted too); an unknown name is an error."""
    from esb_runtime.config import FunctionsConfigError, load_functions

    try:
        functions = load_functions(tree.config / "functions.yml").functions
    except FunctionsConfigError:
        return name  # never built here: nothing to check against
    if name in functions:
        return name
    by_logical = {fn.logical_id: physical for physical, fn in functions.items()}
    if name in by_logical:
        return by_logical[name]
    raise ConfigError(f"unknown function {name!r}", where=str(tree.config / "functions.yml"),
                      hint=f"functions: {', '.join(sorted(functions)) or 'none'}")


def store_settings(project: Project) -> RuntimeSettings:
    """Where the box's records are, as this host reaches them: the compose stack's VictoriaLogs on its published
    port, else the JSON-lines files of the output tree (what the process and docker engines write)."""
    tree = project.output
    settings = RuntimeSettings(output_dir=tree.root, manager_socket=tree.manager_socket, rie_path=None)
    state = boxstate.read(tree.state)
    if state is None or state.engine != "compose":
        return settings
    from esb.box.compose_stack import logs_endpoint

    url = logs_endpoint(project)
    return settings if url is None else replace(settings, log_store="victorialogs", victorialogs_url=url)


def format_record(record: dict) -> str:
    """One human line: time level function request_id message."""
    fields = (
        str(record.get("time", "-")),
        str(record.get("level") or "-").ljust(5),
        str(record.get("function") or "-"),
        str(record.get("request_id") or "-"),
        # A multi-line record (a traceback) stays one record: its further lines indented under the first.
        str(record.get("message", "")).rstrip("\n").replace("\n", "\n    "),
    )
    return " ".join(fields)


def logs_command(
    tree: BuildTree,
    settings: RuntimeSettings | None,
    args: Any,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    store_factory: Callable[[RuntimeSettings], LogStore] = open_store,
    stop: threading.Event | None = None,
) -> int:
    """Print the matching records (then new ones with --follow, until Ctrl-C); returns the exit code."""
    out = out or sys.stdout
    settings = settings or RuntimeSettings(output_dir=tree.root, manager_socket=tree.manager_socket, rie_path=None)
    query = build_query(args, clock())
    as_json = bool(getattr(args, "json", False))
    stop = stop or threading.Event()
    try:
        store = store_factory(settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        records = store.follow(query, stop) if getattr(args, "follow", False) else store.query(query)
        wanted = at_least(getattr(args, "level", None))
        for record in filter(wanted, records):
            line = json.dumps(record, sort_keys=True, default=str) if as_json else format_record(record)
            out.write(line + "\n")
            out.flush()
    except KeyboardInterrupt:
        stop.set()
    finally:
        store.close()
    return 0
