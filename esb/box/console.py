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
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TextIO

from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

from esb.box.logs import LEVELS as _LEVELS
from esb.box.logs import store_settings
from esb_runtime.logs.factory import open_store
from esb_runtime.logs.stores import LogStore
from esb_runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from esb.project import Project

Record = dict[str, Any]
_EVENTS = ("START", "END", "REPORT")  # the RIE's bookkeeping lines: the request line says it better


@dataclass
class _Call:
    first_seen: float
    request: Record | None = None
    lines: list[Record] = field(default_factory=list)
    cold: bool = False
    reported: bool = False  # the function's REPORT arrived: nothing more of it will come
    shown: bool = False  # settled: its request line printed, or skipped (`esb watch` prints failures only)
    printed: bool = False  # its request line was printed: late output belongs under it


def _status_style(status: int) -> str:
    return "red" if status >= 500 else "yellow" if status >= 400 else "green"


def _clock_text(record: Record) -> str:
    text = str(record.get("time") or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return text or "-"
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


Pieces = list[tuple[str, str]]  # (text, rich style; "" = none)


def request_line(request: Record, cold: bool) -> Pieces:
    status = int(request.get("status") or 0)
    return [
        (f"{_clock_text(request)} ", ""),
        (f"{request.get('method', '-')} {request.get('path', '-')}", "bold"),
        (" ", ""),
        (str(status), _status_style(status)),
        (f" {float(request.get('latency_ms') or 0.0):.1f} ms {request.get('function') or '-'} ", ""),
        ("cold" if cold else "warm", "cyan" if cold else "dim"),
        (f" {request.get('request_id') or '-'}", "dim"),
    ]


def output_line(record: Record) -> Pieces:
    level = str(record.get("level") or "info")
    message = str(record.get("message", "")).rstrip("\n")
    style = "red" if _LEVELS.get(level, 20) >= 40 else "yellow" if level == "warn" else ""
    return [("    " + message.replace("\n", "\n    "), style)]


class LiveConsole:
    """Records in (from any thread), lines out. `hold_s`: how long a request waits for its function's output."""

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None, hold_s: float = 0.3,
                 min_level: str = "info", failures_only: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out or sys.stdout
        tty = self._out.isatty() if color is None else color
        # rich decides what the terminal takes (TTY, NO_COLOR, colour depth); lines are then styled per piece
        # with its cached ANSI codes: Console.print's layout work would cost ~0.2 ms a line.
        detected = Console(file=self._out, force_terminal=tty, no_color=not tty).color_system
        self._color = ColorSystem.STANDARD if tty and detected else None
        self._styles: dict[str, Style] = {}
        self._hold_s, self._clock = hold_s, clock
        self._min_level = _LEVELS.get(min_level, 20)
        self._failures_only = failures_only  # `esb watch`: only calls that failed (e.g. the new code's init error)
        self._calls: dict[str, _Call] = {}  # by trace root, in arrival order
        self._pending: dict[str, _Call] = {}  # the ones not printed yet
        self._lock = threading.Lock()

    def add(self, record: Record) -> None:
        trace = record.get("trace_id")
        source = record.get("source")
        with self._lock:
            if not trace:
                if source != "gateway" and not self._failures_only and self._wanted(record):
                    self._print(output_line(record))  # the box's own notes (a sandbox stopping, an error)
                return
            call = self._calls.get(trace)
            if call is None:
                call = self._calls[trace] = self._pending[trace] = _Call(self._clock())
            if source == "gateway":
                call.request = record
            elif source == "manager" and record.get("message") == "sandbox started":
                call.cold = True
            elif record.get("event") in _EVENTS:
                call.reported = call.reported or record.get("event") == "REPORT"
            elif self._wanted(record):
                if not call.shown:
                    call.lines.append(record)
                elif call.printed or not self._failures_only:
                    # Late output (e.g. an init error logged after the gateway answered): under or near its request.
                    self._print(output_line(record))
            now = self._clock()
            self._settle(trace, call, now)
            self._forget(now)

    def note(self, text: str) -> None:
        """A line of the console's own (in red on a terminal)."""
        with self._lock:
            self._print([(text, "red")])

    def flush(self, *, force: bool = False) -> None:
        """Print what waited long enough (every `follow` tick); `force`: everything held."""
        with self._lock:
            now = float("inf") if force else self._clock()
            for trace, call in list(self._pending.items()):
                self._settle(trace, call, now)
            self._forget(now)

    def _wanted(self, record: Record) -> bool:
        return _LEVELS.get(str(record.get("level")), 20) >= self._min_level

    def _settle(self, trace: str, call: _Call, now: float) -> None:
        if call.shown:
            return
        if call.request is not None and (call.reported or now - call.first_seen >= self._hold_s):
            if not self._failures_only or int(call.request.get("status") or 0) >= 500:
                self._print(request_line(call.request, call.cold))
                call.printed = True
                for record in call.lines:
                    self._print(output_line(record))
        elif call.request is None and now - call.first_seen >= 10 * self._hold_s:
            for record in [] if self._failures_only else call.lines:  # no HTTP request: a schedule, an async call
                self._print(output_line(record))
        else:
            return
        call.shown, call.lines = True, []
        del self._pending[trace]

    def _forget(self, now: float) -> None:
        # Calls are kept a minute so late lines still find their group; oldest first (insertion order).
        while self._calls:
            trace, call = next(iter(self._calls.items()))
            if not call.shown or now - call.first_seen < 60.0:
                return
            del self._calls[trace]

    def _print(self, pieces: Pieces) -> None:
        if self._color is None:
            line = "".join(text for text, _ in pieces)
        else:
            line = "".join(self._style(style).render(text, color_system=self._color) if style else text
                           for text, style in pieces)
        self._out.write(line + "\n")
        self._out.flush()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = Style.parse(name)
        return style


def follow(console: LiveConsole, records: Iterable[Record], stop: threading.Event,
           tick_s: float = 0.1) -> list[threading.Thread]:
    """Feed `records` (a log store's follow) into the console and flush held requests, until `stop`."""

    def feed() -> None:
        try:
            for record in records:
                if stop.is_set():
                    break
                console.add(record)
        except Exception as exc:  # noqa: BLE001 - a log store that stops answering ends the console, not the box
            console.note(f"console stopped: the log store does not answer ({exc}); the box keeps running")

    def tick() -> None:
        while not stop.wait(tick_s):
            console.flush()
        console.flush(force=True)

    threads = [threading.Thread(target=feed, name="console-feed", daemon=True),
               threading.Thread(target=tick, name="console-tick", daemon=True)]
    for thread in threads:
        thread.start()
    return threads


def attach(project: Project, stop: threading.Event, out: TextIO | None = None, *, failures_only: bool = False,
           store_factory: Callable[[RuntimeSettings], LogStore] = open_store) -> LiveConsole:
    """The console of the project's running box: requests from now on, until `stop` is set. It reads the store
    `esb logs` reads (the compose stack's VictoriaLogs, or the output tree's files)."""
    from esb_runtime.logs.stores import LogQuery

    store = store_factory(store_settings(project))

    def records() -> Iterator[Record]:
        try:
            yield from store.follow(LogQuery(since=datetime.now(timezone.utc)), stop)
        finally:
            store.close()

    console = LiveConsole(out, failures_only=failures_only)
    follow(console, records(), stop)
    return console
