"""The foreground faces of the watcher: `esb watch` (beside a running box) and `esb up --watch` (box + watcher)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from esb.box import launch as box
from esb.build.context import BuildContext
from esb.watch.loop import Say, Watcher
from esb.watch.link import RunningBox


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C / SIGTERM set `stop` (signal handlers can only be installed from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _monitor(stop: threading.Event, alive: Callable[[], bool], say: Say, interval_s: float = 0.5) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(interval_s):
            if not alive():
                say("a box process exited; stopping")
                stop.set()

    thread = threading.Thread(target=loop, name="box-monitor", daemon=True)
    thread.start()
    return thread


def _box_alive(ctx: BuildContext) -> bool:
    return box.ended(ctx.tree) is None  # dead parts are the supervisor's to restart


def watch_foreground(ctx: BuildContext, say: Say) -> None:
    """`esb watch`: rebuild and reload on every save until Ctrl-C; the box (if any) keeps running."""
    stop = threading.Event()
    link = RunningBox(ctx.tree)
    say(f"watching {ctx.project.template} and its code; Ctrl-C stops")
    if not link.running():
        say("no box running: saves are built only (start one with `esb up -d`)")
    else:
        from esb.box.console import attach

        attach(ctx.project, stop, failures_only=True)  # a call the new code fails (HandlerNotFound, import error)
    with _stop_on_signals(stop):
        Watcher(ctx, box=link, say=say).run(stop)
    say("watch stopped")


def up_and_watch(ctx: BuildContext, say: Say) -> None:
    """`esb up --watch`: the box is already up; watch until Ctrl-C or a box process dies, then stop the box."""
    stop = threading.Event()
    say(f"watching {ctx.project.template} and its code; Ctrl-C stops the watcher and the box")
    try:
        with _stop_on_signals(stop):
            _monitor(stop, lambda: _box_alive(ctx), say)
            Watcher(ctx, box=RunningBox(ctx.tree), say=say).run(stop, initial=False)
    finally:
        stop.set()
        box.down(ctx.tree, say=say)
