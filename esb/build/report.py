"""One place where task failures become one clear line: the action wrapper and the doit reporter."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from doit.exceptions import BaseFail, TaskFailed
from doit.reporter import ConsoleReporter

from esb.errors import EsbError

PREFIX = "esb-error: "


def guarded(action: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a python-action: an EsbError becomes a TaskFailed carrying only its one-line message."""

    @functools.wraps(action)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = action(*args, **kwargs)
        except EsbError as exc:
            fail = TaskFailed(PREFIX + str(exc), exception=exc)
            fail.exit_code = exc.exit_code  # type: ignore[attr-defined]
            return fail
        # doit reads a dict as saved values and False as failure; anything else returned means success.
        return result if isinstance(result, dict) else None

    return run


def failure_line(task_name: str, fail: BaseFail) -> str:
    message = fail.message
    if message.startswith(PREFIX):
        return f"error: {message[len(PREFIX):]}"
    last = "".join(fail.traceback).strip().splitlines()[-1:] or [message]
    return f"error: task {task_name} failed: {last[0]}"


class EsbReporter(ConsoleReporter):
    """Progress as one line per task run; failures as one line each (tracebacks only when verbose).

    Progress goes to stderr, and only when asked (a terminal, or --verbose): stdout carries only what a
    command prints (e.g. `--json`). The names of the tasks that ran are recorded in `ran_tasks`, so callers
    ask the reporter which tasks ran instead of reading its text."""

    desc = "esb: one line per task and per failure"
    verbose = False
    progress = False
    ran_tasks: list[str] = []  # replaced per run by reporter_for

    def __init__(self, outstream: Any, options: dict[str, Any]) -> None:
        super().__init__(outstream, options)
        self.ran = 0
        self.skipped = 0
        self.exit_codes: list[int] = []

    def write(self, text: str) -> None:
        # doit binds its stream at import; write to the current stderr so redirection and capture work.
        if self.progress:
            sys.stderr.write(text)

    def execute_task(self, task: Any) -> None:
        if task.actions and not task.name.startswith("_"):
            self.ran += 1
            self.ran_tasks.append(task.name)
            self.write(f"  {task.title()}\n")

    def skip_uptodate(self, task: Any) -> None:
        if task.actions:
            self.skipped += 1
        if self.verbose:
            self.write(f"  {task.title()} (up to date)\n")

    def skip_ignore(self, task: Any) -> None:
        self.write(f"  {task.title()} (ignored)\n")

    def add_failure(self, task: Any, fail: BaseFail) -> None:
        if not fail.report:
            return
        self.failures.append({"task": task, "exception": fail})
        sys.stderr.write(failure_line(task.name, fail) + "\n")
        if self.verbose and fail.traceback:
            sys.stderr.write("".join(fail.traceback))

    def runtime_error(self, msg: str) -> None:
        sys.stderr.write(f"error: {msg.strip().splitlines()[-1] if msg.strip() else msg}\n")

    def complete_run(self) -> None:
        if self.verbose:
            for result in self.failures:
                task = result["task"]
                out = "".join(a.out for a in task.actions if getattr(a, "out", None))
                err = "".join(a.err for a in task.actions if getattr(a, "err", None))
                if out or err:
                    self.write(f"{task.name} output:\n{out}{err}\n")
        if not self.failures:
            self.write(f"done: {self.ran} task(s) run, {self.skipped} up to date\n")


def reporter_for(verbose: bool, progress: bool | None = None,
                 ran_tasks: list[str] | None = None) -> type[EsbReporter]:
    """A reporter class for one doit run (doit instantiates it); `ran_tasks` receives the names of tasks run."""
    shown = progress if progress is not None else (verbose or sys.stderr.isatty())
    return type("EsbReporter", (EsbReporter,), {"verbose": verbose, "progress": shown,
                                                "ran_tasks": ran_tasks if ran_tasks is not None else []})
