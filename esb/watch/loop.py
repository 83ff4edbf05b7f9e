"""`esb watch`: rebuild on every save, reload the box, and keep the last good build serving when a save is broken."""

from __future__ import annotations

import io
import shutil
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import watchfiles

from esb.errors import EsbError
from esb.model import Application
from esb.project import load_project
from esb.build.context import BuildContext, build_context
from esb.watch.link import BoxLink, ReloadFailed, RunningBox
from esb.watch.check import SyntaxChecker
from esb.watch.filters import WatchPlan, plan_for
from esb_runtime.sources.names import ASYNC_KINDS

Say = Callable[[str], None]
BuildRunner = Callable[[BuildContext, "list[str]"], "tuple[int, str, tuple[str, ...]]"]  # -> (exit code, output, tasks run)
ContextLoader = Callable[[BuildContext], BuildContext]
PREFIX = "watch: "


@dataclass(frozen=True)
class BatchResult:
    """What one batch did; `line` is the summary printed for it."""

    ok: bool
    line: str
    tasks: tuple[str, ...] = ()
    build_s: float = 0.0
    total_s: float = 0.0
    reloaded: bool = False
    provision_report: str | None = None
    started_at: float = 0.0  # the watcher's clock when the batch began


def reload_context(ctx: BuildContext) -> BuildContext:
    """Re-read generator.yml and the template the way the running context found them."""
    project = ctx.project
    if project.template_source == "project" and project.generator_file is not None:
        fresh = load_project(None, cwd=project.generator_file.parent, env={})
    else:
        fresh = load_project(str(project.template), cwd=project.project_dir, env={})
    fresh = fresh.with_overrides(project.overrides)  # the command line's overrides outlive a reload
    return replace(build_context(fresh, verbose=ctx.verbose, runner=ctx.runner), python=ctx.python)


def run_doit_build(ctx: BuildContext, targets: list[str]) -> tuple[int, str, tuple[str, ...]]:
    """The incremental doit pipeline in-process (no interpreter start-up per save): exit code, captured
    output (for its error lines) and the names of the tasks that ran (as doit's reporter saw them)."""
    from esb.build.runner import run_doit

    out, err = io.StringIO(), io.StringIO()
    ran: list[str] = []
    with redirect_stdout(out), redirect_stderr(err):
        code = run_doit(ctx, ["run", *targets], ran_tasks=ran)
    return code, out.getvalue() + err.getvalue(), tuple(ran)


def _error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    return errors[0][len("error: "):] if errors else "the build failed (run `esb build --verbose` for details)"


def purge_bytecode(ctx: BuildContext, tasks: Iterable[str]) -> None:
    """Delete the __pycache__ that sandboxes wrote into restaged code.

    Python trusts a .pyc whose recorded source mtime (whole seconds) and size match: two saves of the same
    size within one second would otherwise run the previous save's bytecode in the next sandbox.
    """
    restaged = {name.split(":", 1)[1] for name in tasks if name.startswith("stage:")}
    for fn in ctx.app.functions:
        if fn.logical_id in restaged:
            for cache in sorted(ctx.tree.function(fn.name).rglob("__pycache__"), reverse=True):
                shutil.rmtree(cache, ignore_errors=True)


def routes_of(app: Application) -> set[str]:
    return {f"{ev.method} {ev.path}" for fn in app.functions for ev in fn.events if ev.path and ev.method}


def _diff(kind: str, old: set[str], new: set[str]) -> list[str]:
    parts = []
    if new - old:
        parts.append(f"{kind} added: {', '.join(sorted(new - old))}")
    if old - new:
        parts.append(f"{kind} removed: {', '.join(sorted(old - new))}")
    return parts



def provisioned(app: Application) -> tuple:
    """What provisioning makes of a template: tables, buckets, the other resources, and the wiring of the
    asynchronous event sources (delivery queues, subscriptions, rules, bucket notifications)."""
    deliveries = tuple((fn.name, event) for fn in app.functions for event in fn.events if event.kind in ASYNC_KINDS)
    return app.tables, app.buckets, app.resources, deliveries

class Watcher:
    """Turns batches of changed paths into builds; `run` is the watchfiles loop, `run_batch` one step of it."""

    def __init__(self, ctx: BuildContext, *, box: BoxLink | None = None, say: Say = print,
                 build: BuildRunner = run_doit_build, load: ContextLoader = reload_context,
                 clock: Callable[[], float] = time.monotonic, checker: SyntaxChecker | None = None) -> None:
        self.ctx = ctx  # the last good context: what the box serves
        self.box: BoxLink = box if box is not None else RunningBox(ctx.tree)
        self.say, self._build, self._load, self.clock = say, build, load, clock
        self.checker = checker or SyntaxChecker()
        self.plan: WatchPlan = plan_for(ctx)
        self._stores = provisioned(ctx.app)  # what the box was provisioned with
        self.batches = 0
        self.last: BatchResult | None = None
        self.armed = threading.Event()  # set once watchfiles watches (tests edit files only after it)
        self.armed_dirs: frozenset[Path] = frozenset()  # the directories the current watch covers
        self.batch_done = threading.Condition()

    # --- one batch -----------------------------------------------------------------------------
    def run_batch(self, changes: Iterable[str | Path] = ()) -> BatchResult:
        start = self.clock()
        result = BatchResult(False, f"{PREFIX}the batch failed unexpectedly", started_at=start)
        try:
            result = replace(self._batch(start), started_at=start)
        except Exception as exc:  # noqa: BLE001 - one bad batch (a file vanished mid-walk...) must not end the watch
            result = replace(self._broken(f"{type(exc).__name__}: {exc}"), started_at=start)
        finally:
            with self.batch_done:
                self.last = result
                self.batches += 1
                self.batch_done.notify_all()
        self.say(result.line)
        return result

    def _batch(self, start: float) -> BatchResult:
        try:
            ctx = self._load(self.ctx)
        except EsbError as exc:
            return self._broken(str(exc))
        problem = self.checker.first_problem(ctx)
        if problem is not None:
            return self._broken(str(problem))
        build_start = self.clock()
        # A docker box runs images, not the staged tree: rebuild the changed functions' images too.
        targets = ["build", "image"] if self.box.running() and self.box.engine() == "docker" else ["build"]
        code, output, tasks = self._build(ctx, targets)
        build_s = self.clock() - build_start
        if code != 0:
            return self._broken(_error_line(output))
        previous, self.ctx, self.plan = self.ctx, ctx, plan_for(ctx)
        purge_bytecode(ctx, tasks)
        notes = _diff("functions", {f.name for f in previous.app.functions}, {f.name for f in ctx.app.functions})
        notes += _diff("routes", routes_of(previous.app), routes_of(ctx.app))
        notes += [f"warning: {w}" for w in ctx.app.warnings if w not in previous.app.warnings]
        reloaded, report = False, None
        if self.box.running():
            reloaded = self._reload(notes)
            report = self._provision(ctx.app, notes)
        else:
            notes.append("no box running (start one with `esb up -d`)")
        built = f"rebuilt {', '.join(tasks)}" if tasks else "nothing to rebuild"
        line = f"{PREFIX}{built} in {build_s:.2f}s" + ("; box reloaded" if reloaded else "")
        line += "".join(f"; {note}" for note in notes)
        return BatchResult(True, line, tasks, build_s, self.clock() - start, reloaded, report)

    def _broken(self, why: str) -> BatchResult:
        return BatchResult(False, f"{PREFIX}not rebuilt, still serving the last good build: {why}")

    def _reload(self, notes: list[str]) -> bool:
        try:
            self.box.reload()
            return True
        except ReloadFailed as exc:
            notes.append(str(exc))
            return False

    def _provision(self, app: Application, notes: list[str]) -> str | None:
        stores = provisioned(app)
        if stores == self._stores:
            return None
        try:
            report = self.box.provision(app)
        except ImportError:
            notes.append("store resources changed but the provisioner is not available; restart with `esb up`")
            return None
        except EsbError as exc:
            notes.append(f"provisioning failed: {exc}")
            return None
        self._stores = stores
        notes.append("stores: " + "; ".join(line.strip() for line in report.splitlines() if line.strip()))
        return report

    # --- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, initial: bool = True, step_ms: int = 50, debounce_ms: int = 1600,
            poll_ms: int = 200) -> None:
        """Watch until `stop` is set; with `initial`, build once first so the box matches the sources."""
        if initial:
            self.run_batch()
        catch_up = False
        while not stop.is_set():
            plan = self.plan
            dirs = [str(d) for d in plan.dirs if d.is_dir()]
            rearm = False
            # Non-recursive watches on each source dir: the output tree's constant writes (logs, store data)
            # never reach the debouncer, so a save is noticed after `step_ms` of quiet, not `debounce_ms`.
            for changes in watchfiles.watch(*dirs, watch_filter=plan.watch_filter, debounce=debounce_ms, step=step_ms,
                                            stop_event=stop, rust_timeout=poll_ms, yield_on_timeout=True,
                                            recursive=False, raise_interrupt=False):
                if not self.armed.is_set() or catch_up:
                    self.armed_dirs = frozenset(Path(d) for d in dirs)
                    self.armed.set()
                if catch_up:
                    # Saves made while the watch was re-armed reached no watcher: one content-hashed batch
                    # picks them up (it costs a no-op build when there were none).
                    catch_up = False
                    self.run_batch()
                if not changes:
                    continue
                self.run_batch(sorted(path for _change, path in changes))
                if self.plan.dirs != plan.dirs:
                    rearm = True  # a new function or directory: watch the new set of dirs
                    break
            if not rearm:
                return
            catch_up = True

    def wait_batches(self, count: int, timeout_s: float) -> bool:
        """Block until at least `count` batches have run (tests and the bench use it)."""
        with self.batch_done:
            return self.batch_done.wait_for(lambda: self.batches >= count, timeout_s)
