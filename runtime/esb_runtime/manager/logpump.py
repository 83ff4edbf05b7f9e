"""Sandbox output → log records: attribution to the current lease, invocation tails, batched shipping."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from esb_runtime.logs.records import build_record
from esb_runtime.sandbox import metrics
from esb_runtime.sandbox.bootstrap import BEGIN_MARKER

log = logging.getLogger(__name__)

Record = dict[str, Any]
RecordSink = Callable[[list[Record]], None]
TAIL_BYTES = 4096
MAX_UNREPORTED = 8
CALL_LINES = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")


class SandboxLog:
    """One sandbox's output: records carry its function, id, the lease's trace id and the START request id."""

    def __init__(self, function: str, emit: Callable[[Record], None], clock: Callable[[], float] = time.time,
                 on_figures: Callable[[float, float | None], None] | None = None) -> None:
        self.function = function
        self.sandbox_id: str | None = None
        self._emit, self._clock = emit, clock
        # Each call's measured duration and, on a cold one, the runtime's init (seconds): the pool's estimates.
        self._on_figures = on_figures
        self._cond = threading.Condition(threading.Lock())  # never re-entered; the plain lock is cheaper
        self._pending: list[tuple[float, str]] = []  # lines before the engine told us the sandbox id
        self._trace: str | None = None
        self._request_id: str | None = None
        self._previous: tuple[str | None, str | None] = (None, None)  # (request id, trace) of the last invocation
        self._tail: list[str] = []
        self._tail_size = 0
        self._reported = False
        self._closing = False
        self._ended = True  # the current call's END was read (or no call yet): later output is nobody's
        # Measured by the sandbox, by request id, until their REPORT line comes (None: a marker without an id).
        self._figures: dict[str | None, dict[str, Any]] = {}
        # Each recent call's trace as the sandbox's begin marker said it, by request id. The sandbox's word wins
        # over the lease's: lease begin/end come on another socket than the output, and a kept lease tells the
        # manager nothing per call. Bounded: END/REPORT come within a call or two.
        self._said: dict[str, str | None] = {}
        # A START until its begin marker, the next line, says its trace: (time, line, request id, the lease's trace)
        self._start: tuple[float, str, str, str | None] | None = None
        self.invocations = 0  # START lines seen: a kept lease serves many calls the manager is not told of
        self.announces = False  # its bootstrap writes begin markers (not a container image's own runtime)

    @property
    def request_id(self) -> str | None:
        return self._request_id

    def closing(self) -> None:
        """The sandbox is being stopped: its runtime's dying words (`Failed to get next invocation` and a
        traceback) are kept at debug level, attributed to no invocation; the manager's `sandbox stopped` says it.
        The output of its last call still in the pipe (read in chunks, a moment late) is that call's."""
        with self._cond:
            self._closing = True

    def bind(self, sandbox_id: str) -> None:
        with self._cond:
            self.sandbox_id = sandbox_id
            pending, self._pending = self._pending, []
        for when, line in pending:
            self._emit(self._record(line, None, None, when))

    def begin(self, trace_id: str | None) -> None:
        with self._cond:
            if self._request_id != self._previous[0]:  # end() did not say it (a lease that ended some other way)
                self._previous = (self._request_id, self._trace)
            self._trace, self._request_id = trace_id, None
            self._tail, self._tail_size, self._reported = [], 0, False

    def end(self) -> None:
        """The lease is back: later lines are nobody's, except the END/REPORT of its last call, which the RIE
        may print after the holder had its answer and returned the lease."""
        with self._cond:
            self._previous = (self._request_id, self._trace)
            self._trace = None

    def feed(self, line: str) -> None:
        when = self._clock()
        if line.startswith("\x1f"):  # the sandbox bootstrap's markers: never records
            self._marker(line)
            return
        with self._cond:
            held = self._release_start(None)
            if self._closing and self._ended:
                record = self._record(line, None, None, when)
                record["level"] = "debug"
                self._emit_all(held, record)
                return
            if self.sandbox_id is None:
                self._pending.append((when, line))
                return
            figures = None
            if line.startswith("START RequestId: "):
                self._started(line.split()[2])
                if self._request_id not in self._said:
                    # Its begin marker, the next line, names its trace: the lease's may be another call's.
                    self._start = (when, line, self._request_id or "", self._trace)
                    self._keep_tail(line)
                    return
            request_id, trace = self._request_id, self._trace
            late = bool(self._previous[0] and self._previous[0] in line)
            if late:
                request_id, trace = self._previous  # a late END/REPORT of the invocation before
            else:
                self._keep_tail(line)
            own = line.split(None, 3)[2] if line.startswith(CALL_LINES) else request_id
            if own in self._said:
                request_id, trace = own, self._said[own]
            # A late END (the lease went back first, which the RIE on one Go thread makes common) still ends the
            # sandbox's last call, unless another call has started since.
            if line.startswith("END RequestId: ") and (not late or own == self._request_id):
                self._ended = True
            if line.startswith("REPORT RequestId: "):  # `own` is the id it reports on
                figures = self._figures.pop(own, None) or self._figures.pop(None, None)
                if not late:
                    self._reported = True
                    self._cond.notify_all()
        record = self._record(line, request_id, trace, when)
        if figures is not None and record.get("event") == "REPORT":
            record = metrics.true_report(record, figures)
            with self._cond:  # the Invoke API's log tail shows the same figures
                if self._tail and self._tail[-1] == line:
                    self._tail[-1] = record["message"]
        self._emit_all(held, record)

    def _started(self, request_id: str) -> None:
        """A START line (caller holds the lock): a lease's first call, or the next call on a kept lease."""
        self.invocations += 1
        if self._request_id is not None and self._request_id != request_id:
            self._previous = (self._request_id, self._trace)
            self._tail, self._tail_size, self._reported = [], 0, False
        self._request_id = request_id
        self._ended = False
        self._cond.notify_all()

    def _marker(self, line: str) -> None:
        figures = metrics.parse(line)
        if figures is not None:
            if self._on_figures is not None and "duration_ms" in figures:
                init_ms = figures.get("init_ms")
                self._on_figures(figures["duration_ms"] / 1000, None if init_ms is None else init_ms / 1000)
            with self._cond:
                self._figures[figures.pop("request_id", None)] = figures  # for the REPORT line that follows
                while len(self._figures) > MAX_UNREPORTED:  # REPORTs that never came (a killed runtime)
                    self._figures.pop(next(iter(self._figures)))
            return
        if not line.startswith(BEGIN_MARKER):
            return
        request_id, _, trace = line[len(BEGIN_MARKER):].partition("\t")
        with self._cond:
            self.announces = True
            self._said[request_id] = trace or None
            while len(self._said) > MAX_UNREPORTED:
                self._said.pop(next(iter(self._said)))
            held = None
            if self._start is not None and self._start[2] == request_id:
                held = self._release_start(trace)
        self._emit_all(held, None)

    def _release_start(self, trace: str | None) -> Record | None:
        """The held START's record (caller holds the lock): with its marker's trace, else its lease's."""
        if self._start is None:
            return None
        when, line, request_id, lease_trace = self._start
        self._start = None
        return self._record(line, request_id, trace or lease_trace, when)

    def _emit_all(self, held: Record | None, record: Record | None) -> None:
        for item in (held, record):
            if item is not None:
                self._emit(item)

    def _record(self, line: str, request_id: str | None, trace: str | None, when: float) -> Record:
        return build_record(line, function=self.function, sandbox=self.sandbox_id, request_id=request_id,
                            trace_id=trace, when=when)

    def _keep_tail(self, line: str) -> None:
        self._tail.append(line)
        self._tail_size += len(line) + 1
        while self._tail_size > TAIL_BYTES and len(self._tail) > 1:
            self._tail_size -= len(self._tail.pop(0)) + 1

    def wait_request_id(self, timeout_s: float) -> str | None:
        with self._cond:
            self._cond.wait_for(lambda: self._request_id is not None, timeout_s)
            return self._request_id

    def tail(self, wait_report_s: float) -> bytes:
        """The last 4 KB of this invocation's output, after its REPORT line when it comes in time."""
        with self._cond:
            self._cond.wait_for(lambda: self._reported, wait_report_s)
            data = "\n".join(self._tail).encode("utf-8", "replace") + b"\n"
        return data[-TAIL_BYTES:]


class RecordShipper:
    """Batches records to the sink from one background thread (sinks do I/O; callers must not wait on it)."""

    def __init__(self, sink: RecordSink, *, batch: int = 200, interval_s: float = 0.25) -> None:
        self._sink, self._batch, self._interval = sink, batch, interval_s
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._records: list[Record] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._thread.start()

    def emit(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)
            full = len(self._records) >= self._batch
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._lock:
            records, self._records = self._records, []
        if records:
            try:
                self._sink(records)
            except Exception:  # logs are best effort; the invocation path must never fail on them
                log.exception("log sink failed; %d records dropped", len(records))

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=2)
        self.flush()
