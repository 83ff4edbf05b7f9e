"""The manager: functions.yml → pools of leased sandboxes; invocations, leases, reloads, idle stops."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from esb_runtime.config import FunctionConfig, FunctionsConfig, load_functions
from esb_runtime.contract import IMAGE_RECORD
from esb_runtime.engine import Engine, SandboxSpec
from esb_runtime.errors import FunctionNotFound, PayloadTooLarge, RuntimeBoxError
from esb_runtime.logs.records import manager_record
from esb_runtime.manager.breaker import Breaker
from esb_runtime.manager.async_queue import EventQueue
from esb_runtime.manager.invoke import (CRASH, OK, REUSABLE, InvokeResult, RieClient, client_context_header,
                                        crash_body, invoke)
from esb_runtime.manager.lease_protocol import ABANDONED, Grant
from esb_runtime.manager.logpump import RecordShipper, RecordSink, SandboxLog
from esb_runtime.manager.pool import Pool, Slot
from esb_runtime.manager.specs import build_spec, image_tag
from esb_runtime.names_digest import sha256_hex
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

SYNC_LIMIT = 6_291_556
EVENT_LIMIT = 262_144


class LeaseNotFound(RuntimeBoxError):
    status = 404
    code = "LeaseNotFound"


@dataclass(frozen=True)
class Invocation:
    """What the API answers for one synchronous invocation."""

    outcome: str
    body: bytes
    request_id: str | None
    sandbox: str
    log_tail: bytes | None = None


@dataclass
class _Function:
    config: FunctionConfig
    spec: SandboxSpec
    manifest_mtime: tuple[int | None, int | None]  # stamp of build.json (and image.json on docker)
    pool: Pool
    breaker: Breaker


def _mtime(path: Path | None) -> int | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except OSError:
        return None


class Manager:
    def __init__(self, settings: RuntimeSettings, engine: Engine, sink: RecordSink, *,
                 secrets: BoxSecrets | None = None, clock: Callable[[], float] = time.monotonic,
                 event_workers: int = 4) -> None:
        self.settings, self.engine, self.secrets, self.clock = settings, engine, secrets, clock
        self.config_path = settings.config_dir / "functions.yml"
        self._shipper = RecordShipper(sink)
        self._lock = threading.RLock()
        self._functions: dict[str, _Function] = {}
        self._app = FunctionsConfig(project="", region="us-east-1", account_id="000000000000")
        self._config_mtime: int | None = -1
        self._notes: list[str] = []
        # sandbox id -> entry, slot, breaker trial, trace of the call (records of a start or recycle carry it)
        self._leases: dict[str, tuple[_Function, Slot, bool, str | None]] = {}
        # function -> sandboxes leased with keep (the holder serves calls on them without asking): recalled when
        # someone else waits for that function or it was rebuilt.
        self._kept: dict[str, set[str]] = {}
        self._recall: Callable[[str, bool], None] = lambda sandbox, shortage: None
        self._stopping = threading.Event()
        # The call a sandbox start or stop happens for (trace, request id): its manager records carry them.
        self._cause = threading.local()
        self.reload(force=True, strict=False)
        self._events = EventQueue(self._run_event, workers=event_workers)
        self._reaper = threading.Thread(target=self._reap_loop, name="reaper", daemon=True)
        self._reaper.start()

    # --- configuration -------------------------------------------------------------------------
    def reload(self, *, force: bool = True, strict: bool = True) -> None:
        """Re-read functions.yml (when its mtime changed, or always with force)."""
        mtime = _mtime(self.config_path)
        if not force and mtime == self._config_mtime:
            return
        with self._lock:
            try:
                app = load_functions(self.config_path, self.settings.output_dir) if mtime is not None else \
                    FunctionsConfig(project="", region="us-east-1", account_id="000000000000")
            except RuntimeBoxError as exc:
                self._notes = [f"functions.yml not loaded: {exc.message}"]
                self._config_mtime = mtime  # do not retry a broken file on every call; its next edit retries
                if strict:
                    raise
                return
            self._app, self._config_mtime, self._notes = app, mtime, []
            for name in [n for n in self._functions if n not in app.functions]:
                self._functions.pop(name).pool.close()
            for fn in app.functions.values():
                self._refresh(fn)

    def _image_file(self, fn: FunctionConfig) -> Path | None:
        if self.engine.name != "docker" or fn.manifest is None:
            return None
        return fn.manifest.parent / IMAGE_RECORD

    def _stamp(self, fn: FunctionConfig) -> tuple[int | None, int | None]:
        """What, when it changes on disk, means the function was rebuilt (code; image on docker)."""
        return _mtime(fn.manifest), _mtime(self._image_file(fn))

    def _sandbox_hash(self, fn: FunctionConfig) -> str:
        # On docker the image is written after build.json: a container must carry the image it runs in its hash,
        # or one started between the two writes would serve old code under the new hash.
        tag = image_tag(fn) if self._image_file(fn) is not None else None
        base = fn.sandbox_hash()
        return sha256_hex(f"{base}:{tag}") if tag else base

    def _refresh(self, fn: FunctionConfig) -> _Function:
        sandbox_hash = self._sandbox_hash(fn)
        spec = build_spec(fn, self._app, self.settings, self.secrets, sandbox_hash)
        size = self.settings.default_concurrency if fn.reserved_concurrency is None else fn.reserved_concurrency
        entry = self._functions.get(fn.name)
        if entry is None:
            pool = Pool(fn.name, current_hash=sandbox_hash, max_size=size,
                        acquire_timeout_s=self.settings.acquire_timeout_s, start=lambda n=fn.name: self._start(n),
                        stop=self._stop, alive=lambda slot: self.engine.alive(slot.sandbox), clock=self.clock,
                        on_shortage=lambda n=fn.name: self._recall_kept(n, shortage=True))
            breaker = Breaker(fn.name, self.settings.breaker_failures, self.settings.breaker_window_s, self.clock)
            entry = _Function(fn, spec, self._stamp(fn), pool, breaker)
            self._functions[fn.name] = entry
        else:
            if sandbox_hash != entry.pool.current_hash:
                entry.breaker.reset()  # new code or config: give it a fresh chance
                self._recall_kept(fn.name)  # kept leases come back and their sandboxes stop (pool.release)
            entry.config, entry.spec, entry.manifest_mtime = fn, spec, self._stamp(fn)
            entry.pool.configure(sandbox_hash, size)
        return entry

    def _lookup(self, name: str) -> _Function:
        self.reload(force=False, strict=False)
        entry = self._functions.get(name)
        if entry is None:
            raise FunctionNotFound(f"Function not found: {name}")
        if self._stamp(entry.config) != entry.manifest_mtime:  # rebuilt: new hash, old sandboxes go
            with self._lock:
                entry = self._refresh(entry.config)
        return entry

    # --- sandboxes -----------------------------------------------------------------------------
    def _start(self, name: str) -> Slot:
        entry = self._functions[name]
        slog = SandboxLog(name, self._shipper.emit, on_figures=entry.pool.observe_call)
        try:
            sandbox = self.engine.start(entry.spec, slog.feed)
        except RuntimeBoxError as exc:
            # The caller sees a 503; the log store keeps why.
            self._shipper.emit(manager_record(f"sandbox failed to start: {exc.message}", function=name,
                                              level="error"))
            raise
        slog.bind(sandbox.id)
        self._shipper.emit(manager_record("sandbox started", function=name, sandbox=sandbox.id, **self._cause_ids()))
        return Slot(sandbox=sandbox, hash=sandbox.config_hash, last_used=self.clock(),
                    extra={"log": slog, "client": RieClient(sandbox.invoke_url)})

    def _cause_ids(self) -> dict[str, str | None]:
        return {"trace_id": getattr(self._cause, "trace", None), "request_id": getattr(self._cause, "request", None)}

    def _stop(self, slot: Slot) -> None:
        # First: what a killed runtime prints on its way out is not the last call's output, and closing the RIE
        # connection can already end the runtime's wait for its next invocation.
        slot.extra["log"].closing()
        slot.extra["client"].close()
        self.engine.stop(slot.sandbox)
        self._shipper.emit(manager_record("sandbox stopped", function=slot.sandbox.function, sandbox=slot.id,
                                          invocations=slot.extra["log"].invocations, **self._cause_ids()))

    def _reap_loop(self) -> None:
        interval = max(0.05, min(1.0, self.settings.idle_timeout_s / 4))
        while not self._stopping.wait(interval):
            self._notice_rebuilds()
            for entry in list(self._functions.values()):
                entry.pool.reap(self.settings.idle_timeout_s)

    def _notice_rebuilds(self) -> None:
        """What a grant's lookup notices, without one: calls on kept leases ask the manager nothing."""
        for name in list(self._functions):
            try:
                self._lookup(name)
            except RuntimeBoxError:
                pass  # removed by the reload the first lookup did

    # --- invocations ---------------------------------------------------------------------------
    def invoke(self, name: str, payload: bytes, *, trace_id: str | None = None, client_context: str | None = None,
               invocation_type: str = "RequestResponse", log_tail: bool = False) -> Invocation | None:
        """Synchronous: the result. Event: queued (None), or TooManyRequests when the queue is full."""
        entry = self._lookup_for(name, trace_id)
        limit = EVENT_LIMIT if invocation_type == "Event" else SYNC_LIMIT
        if len(payload) > limit:
            raise PayloadTooLarge(f"{len(payload)} byte payload exceeds the {invocation_type} limit of {limit} bytes")
        if invocation_type == "Event":
            self._events.submit(name=name, payload=payload, trace_id=trace_id, client_context=client_context)
            return None
        return self._invoke_sync(entry, payload, trace_id, client_context, log_tail)

    def _run_event(self, *, name: str, payload: bytes, trace_id: str | None, client_context: str | None) -> None:
        self._invoke_sync(self._lookup_for(name, trace_id), payload, trace_id, client_context, False)

    def _lookup_for(self, name: str, trace_id: str | None) -> _Function:
        """_lookup on behalf of a call: sandboxes a rebuild recycles there are this call's doing (records say so)."""
        self._cause.trace, self._cause.request = trace_id, None
        try:
            return self._lookup(name)
        finally:
            self._cause.trace = None

    def _invoke_sync(self, entry: _Function, payload: bytes, trace_id: str | None, client_context: str | None,
                     want_tail: bool) -> Invocation:
        context = client_context_header(client_context, trace_id)
        slot = self._lease(entry, trace_id)
        result = InvokeResult(CRASH, b"")
        try:
            slog: SandboxLog = slot.extra["log"]
            result = invoke(slot.extra["client"], payload, timeout_s=entry.config.timeout, client_context=context)
            result = self._explain_crash(slot, result)
            request_id = result.request_id or slog.wait_request_id(1.0 if result.outcome in REUSABLE else 0.2)
            tail = slog.tail(0.5 if result.outcome in REUSABLE else 0.1) if want_tail else None
            return Invocation(result.outcome, result.body, request_id, slot.id, tail)
        finally:
            self._return(slot.id, result.outcome, explained=True)

    def _explain_crash(self, slot: Slot, result: InvokeResult) -> InvokeResult:
        """A sandbox that died under the call: say so plainly instead of a bare connection error."""
        if result.outcome != CRASH:
            return result
        for _ in range(20):  # the socket closes a moment before the killed RIE becomes a zombie
            if not self.engine.alive(slot.sandbox):
                break
            time.sleep(0.005)
        else:
            return result  # the runtime died but the RIE lives: its own 502 message is already clear
        status = getattr(self.engine, "exit_status", lambda sb: None)(slot.sandbox)
        how = f"killed by signal {-status}" if isinstance(status, int) and status < 0 else f"exit status {status}"
        message = f"sandbox {slot.id} of {slot.sandbox.function} died during the invocation ({how}); it is replaced"
        self._shipper.emit(manager_record(message, level="error", function=slot.sandbox.function, sandbox=slot.id))
        return InvokeResult(CRASH, crash_body(message, result.request_id), result.request_id)

    # --- leases (the gateway's lease socket, and the invocations above) ------------------------
    def acquire(self, name: str, trace_id: str | None = None) -> Slot:
        """An exclusive lease on a sandbox of `name`; its output is attributed to `trace_id` until released."""
        return self._lease(self._lookup(name), trace_id)

    def grant(self, name: str, trace_id: str | None, *, wait: bool = True) -> Grant | None:
        """A lease as the lease socket sends it: the sandbox, where its RIE listens, the function's timeout.
        With wait=False: an idle warm sandbox now or None, so the caller can serve it without a greenlet."""
        entry = self._lookup(name)
        slot = self._lease(entry, trace_id) if wait else self._hold(entry, trace_id, entry.pool.acquire_idle)
        if slot is None:
            return None
        # A trial, or a lease after failures, comes back after its call: its outcome is the breaker's verdict. And
        # only a sandbox whose output names each call's trace (begin markers seen) serves calls unannounced.
        keep = not self._leases[slot.id][2] and entry.breaker.clean() and slot.extra["log"].announces
        if keep:
            self._kept.setdefault(name, set()).add(slot.id)
            entry.pool.kept(slot)
        return Grant(slot.id, slot.sandbox.invoke_url, entry.config.timeout, keep)

    def recall_through(self, recall: Callable[[str, bool], None]) -> None:
        """How kept leases are asked back: (sandbox, whether for a shortage, see lease_server.Holders)."""
        self._recall = recall

    def _recall_kept(self, name: str, shortage: bool = False) -> None:
        for sandbox in list(self._kept.get(name, ())):
            self._recall(sandbox, shortage)

    def _lease(self, entry: _Function, trace_id: str | None) -> Slot:
        slot = self._hold(entry, trace_id, entry.pool.acquire)
        assert slot is not None  # a waiting acquire gives a slot or raises
        return slot

    def _hold(self, entry: _Function, trace_id: str | None, take: Callable[[], Slot | None]) -> Slot | None:
        trial = entry.breaker.admit()  # before any sandbox starts: a crash loop is refused at once
        self._cause.trace, self._cause.request = trace_id, None  # a sandbox started for this call says so
        try:
            slot = take() if not trial else entry.pool.acquire()  # a half-open breaker's trial always waits
        except BaseException:
            entry.breaker.record(None, trial)
            raise
        finally:
            self._cause.trace = None
        if slot is None:
            return None
        slot.extra["log"].begin(trace_id)
        self._leases[slot.id] = (entry, slot, trial, trace_id)  # one dict operation: atomic, no lock needed
        return slot

    def release(self, sandbox_id: str, outcome: str) -> None:
        """The end of a lease: outcome ok/error keeps the sandbox; anything else recycles it."""
        self._return(sandbox_id, outcome, explained=False)

    def _return(self, sandbox_id: str, outcome: str, *, explained: bool) -> None:
        lease = self._leases.pop(sandbox_id, None)
        if lease is None:
            raise LeaseNotFound(f"no lease on sandbox {sandbox_id}")
        entry, slot, trial, trace_id = lease
        self._kept.get(entry.config.name, set()).discard(sandbox_id)
        slog: SandboxLog = slot.extra["log"]
        self._cause.trace, self._cause.request = trace_id, slog.request_id  # a recycle records its call
        try:
            slog.end()
            if outcome == CRASH and not explained:
                self._explain_crash(slot, InvokeResult(CRASH, b""))
            # An abandoned lease (its holder went away mid-call) says nothing about the function.
            entry.breaker.record(None if outcome == ABANDONED else outcome, trial)
            entry.pool.release(slot, reusable=outcome in REUSABLE)
        finally:
            self._cause.trace = self._cause.request = None

    # --- introspection and shutdown ------------------------------------------------------------
    def sandboxes(self) -> list[dict[str, Any]]:
        rows = []
        for entry in list(self._functions.values()):
            for slot in entry.pool.slots():
                rows.append({"id": slot.id, "function": entry.config.name, "config_hash": slot.hash,
                             "state": slot.state, "started_at": slot.sandbox.started_at,
                             "invocations": slot.extra["log"].invocations})
        return sorted(rows, key=lambda row: (row["function"], row["id"]))

    def breakers(self) -> dict[str, dict[str, Any]]:
        """Circuit-breaker state per function (closed / open with seconds left / half_open)."""
        return {name: entry.breaker.state() for name, entry in sorted(self._functions.items())}

    def function_names(self) -> list[str]:
        return sorted(self._functions)

    def current_config(self) -> FunctionsConfig:
        """functions.yml as served now (re-read first when it changed on disk); the scheduler polls this."""
        self.reload(force=False, strict=False)
        return self._app

    def record(self, record: dict[str, Any]) -> None:
        """Ship one manager log record (the scheduler's firings)."""
        self._shipper.emit(record)

    def health(self) -> dict[str, Any]:
        notes_of = getattr(self.engine, "notes", None)
        notes = list(notes_of()) if callable(notes_of) else [n for n in [self.engine.limits_note()] if n]
        return {"status": "ok", "engine": self.engine.name, "notes": notes + self._notes,
                "functions": len(self._functions)}

    def close(self) -> None:
        """Stop every sandbox (busy ones too) and flush the logs."""
        self._stopping.set()
        with self._lock:
            pools = [entry.pool for entry in self._functions.values()]
        for pool in pools:
            pool.close()
        self._events.close()
        self._reaper.join(timeout=2)
        self._shipper.close()


__all__ = ["Manager", "Invocation", "LeaseNotFound", "OK", "SYNC_LIMIT", "EVENT_LIMIT"]
