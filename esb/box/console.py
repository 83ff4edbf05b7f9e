"""The foreground box's live console: one line per request, the handler's own output under it.

It reads the log store like `esb logs -f` (the request path pays nothing for it): the gateway's record of a
request and the sandbox's records of the same trace are grouped, held a moment so output written just before
the answer lands under its request line, then printed."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, TextIO

from rich.console import Console
from rich.text import Text

from esb.paths import BuildTree

Record = dict[str, Any]
_EVENTS = ("START", "END", "REPORT")  # the RIE's bookkeeping lines: the request line says it better
_LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50, "critical": 50}


@dataclass
class _Call:
    first_seen: float
    request: Record | None = None
    lines: list[Record] = field(default_factory=list)
    cold: bool = False
    reported: bool = False  # the function's REPORT arrived: nothing more of it will come
    shown: bool = False


def _status_style(status: int) -> str:
    return "red" if status >= 500 else "yellow" if status >= 400 else "green"


def _clock_text(record: Record) -> str:
    text = str(record.get("time") or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return text or "-"
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def request_line(request: Record, cold: bool) -> Text:
    status = int(request.get("status") or 0)
    line = Text(f"{_clock_text(request)} ")
    line.append(f"{request.get('method', '-')} {request.get('path', '-')} ", style="bold")
    line.append(str(status), style=_status_style(status))
    line.append(f" {float(request.get('latency_ms') or 0.0):.1f} ms {request.get('function') or '-'} ")
    line.append("cold" if cold else "warm", style="cyan" if cold else "dim")
    line.append(f" {request.get('request_id') or '-'}", style="dim")
    return line


def output_line(record: Record) -> Text:
    level = str(record.get("level") or "info")
    message = str(record.get("message", "")).rstrip("\n")
    text = Text("    " + message.replace("\n", "\n    "))
    if _LEVELS.get(level, 20) >= 40:
        text.stylize("red")
    elif level == "warn":
        text.stylize("yellow")
    return text


class LiveConsole:
    """Records in (from any thread), lines out. `hold_s`: how long a request waits for its function's output."""

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None, hold_s: float = 0.3,
                 min_level: str = "info", failures_only: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        out = out or sys.stdout
        tty = out.isatty() if color is None else color
        self._console = Console(file=out, force_terminal=tty, no_color=not tty, highlight=False, markup=False,
                                emoji=False, soft_wrap=True)
        self._hold_s, self._clock = hold_s, clock
        self._min_level = _LEVELS.get(min_level, 20)
        self._failures_only = failures_only  # `esb watch`: only calls that failed (e.g. the new code's init error)
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()

    def add(self, record: Record) -> None:
        trace = record.get("trace_id")
        source = record.get("source")
        with self._lock:
            if not trace:
                if source != "gateway" and not self._failures_only and _LEVELS.get(str(record.get("level")), 20) >= self._min_level:
                    self._print(output_line(record))  # the box's own notes (a sandbox stopping, an error)
                return
            call = self._calls.setdefault(trace, _Call(self._clock()))
            if source == "gateway":
                call.request = record
            elif source == "manager" and record.get("message") == "sandbox started":
                call.cold = True
            elif record.get("event") in _EVENTS:
                call.reported = call.reported or record.get("event") == "REPORT"
            elif _LEVELS.get(str(record.get("level")), 20) >= self._min_level:
                if call.shown and not self._failures_only:
                    self._print(output_line(record))  # late output: still under (or near) its request
                else:
                    call.lines.append(record)
            self._flush_locked(self._clock())

    def flush(self, *, force: bool = False) -> None:
        with self._lock:
            self._flush_locked(float("inf") if force else self._clock())

    def _flush_locked(self, now: float) -> None:
        for trace, call in list(self._calls.items()):
            if not call.shown and call.request is not None and (call.reported or now - call.first_seen >= self._hold_s):
                if self._failures_only and int(call.request.get("status") or 0) < 500:
                    call.shown, call.lines = True, []
                    continue
                self._print(request_line(call.request, call.cold))
                for record in call.lines:
                    self._print(output_line(record))
                call.shown, call.lines = True, []
            elif not call.shown and call.request is None and now - call.first_seen >= 10 * self._hold_s:
                for record in [] if self._failures_only else call.lines:  # output without an HTTP request (a schedule, an async invoke)
                    self._print(output_line(record))
                call.shown, call.lines = True, []
            if call.shown and now - call.first_seen >= 60.0:
                del self._calls[trace]  # late lines after a minute print without their group

    def _print(self, text: Text) -> None:
        self._console.print(text)


def follow(console: LiveConsole, records: Iterable[Record], stop: threading.Event,
           tick_s: float = 0.1) -> list[threading.Thread]:
    """Feed `records` (a log store's follow) into the console and flush held requests, until `stop`."""

    def feed() -> None:
        for record in records:
            if stop.is_set():
                break
            console.add(record)

    def tick() -> None:
        while not stop.wait(tick_s):
            console.flush()
        console.flush(force=True)

    threads = [threading.Thread(target=feed, name="console-feed", daemon=True),
               threading.Thread(target=tick, name="console-tick", daemon=True)]
    for thread in threads:
        thread.start()
    return threads


def attach(tree: BuildTree, stop: threading.Event, out: TextIO | None = None, *,
           failures_only: bool = False) -> LiveConsole:
    """The console of a box running from `tree`: requests from now on, until `stop` is set."""
    from esb_runtime.logs.factory import open_store
    from esb_runtime.logs.stores import LogQuery
    from esb_runtime.settings import RuntimeSettings

    store = open_store(RuntimeSettings(output_dir=tree.root, manager_socket=tree.manager_socket, rie_path=None))
    console = LiveConsole(out, failures_only=failures_only)
    follow(console, store.follow(LogQuery(since=datetime.now(timezone.utc)), stop), stop)
    return console
