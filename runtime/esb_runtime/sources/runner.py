"""Runs one poller per enabled event source of the current functions.yml, in the manager; bounded in number."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from esb_runtime.config import EventSource, FunctionsConfig
from esb_runtime.errors import RuntimeBoxError
from esb_runtime.logs.records import manager_record
from esb_runtime.sources.asynchronous import AsyncInvoker, ClientOf, Destinations
from esb_runtime.sources.invoking import Caller, InvokeFn, SourceStats
from esb_runtime.sources.names import ASYNC_KINDS
from esb_runtime.sources.queues import DeliveryPoller, SqsPoller
from esb_runtime.sources.streams import StreamPoller

log = logging.getLogger(__name__)
MAX_SOURCES = 64  # each holds a long poll on the stores: more would starve their threads
_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


class Poller(Protocol):
    def poll_once(self) -> int: ...


@dataclass
class _Running:
    src: EventSource
    stats: SourceStats
    stop: threading.Event
    thread: threading.Thread


class EventSources:
    """Keeps the running pollers in line with the config (re-read every `sync_s`); `status()` for `esb status`."""

    def __init__(self, config: Callable[[], FunctionsConfig], invoke: InvokeFn, emit: Callable[[dict], None],
                 client: ClientOf, *, sync_s: float = 1.0, async_delays: tuple[float, ...] = (1.0, 2.0)) -> None:
        self._config, self._client, self._emit, self._sync_s = config, client, emit, sync_s
        self._caller = Caller(invoke, emit)
        self._destinations = Destinations(client, self._caller)
        self._app = FunctionsConfig(project="", region="us-east-1", account_id="000000000000")
        self._invoker = AsyncInvoker(self._caller, self._destinations, self._function_arn, delays=async_delays)
        self._running: dict[str, _Running] = {}
        self._stats: dict[str, SourceStats] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _function_arn(self, function: str) -> str:
        return f"arn:aws:lambda:{self._app.region}:{self._app.account_id}:function:{function}"

    def _poller(self, src: EventSource, stats: SourceStats) -> Poller:
        region, account = self._app.region, self._app.account_id
        if src.kind == "SQS":
            return SqsPoller(src, self._client, self._caller, region, stats)
        if src.kind in ASYNC_KINDS:
            return DeliveryPoller(src, self._client, self._invoker, region, account, stats)
        return StreamPoller(src, self._client, self._caller, self._destinations, region, account, stats)

    def sync(self) -> None:
        try:
            app = self._config()
        except RuntimeBoxError as exc:  # a broken functions.yml keeps the sources we have
            log.warning("event sources not reloaded: %s", exc.message)
            return
        self._app = app
        wanted = {src.key: src for src in app.event_sources if src.enabled}
        for key, running in list(self._running.items()):
            if wanted.get(key) != running.src:
                running.stop.set()
                del self._running[key]
        for key, src in wanted.items():
            if key in self._running:
                continue
            if len(self._running) >= MAX_SOURCES:
                self._emit(manager_record(f"event source {key} not started: {MAX_SOURCES} sources already run",
                                          level="warn", function=src.function))
                continue
            stats = self._stats.setdefault(key, SourceStats())
            stop = threading.Event()
            thread = threading.Thread(target=self._loop, args=(src, stats, stop), name=f"source-{key}", daemon=True)
            self._running[key] = _Running(src, stats, stop, thread)
            thread.start()

    def _loop(self, src: EventSource, stats: SourceStats, stop: threading.Event) -> None:
        poller, failures = None, 0
        while not stop.is_set() and not self._stopping.is_set():
            try:
                poller = poller or self._poller(src, stats)
                poller.poll_once()
                failures = 0
            except Exception as exc:  # stores not ready, queue not provisioned yet, ...: back off and retry
                stats.last_error = str(exc)
                if failures == 0:
                    self._emit(manager_record(f"event source {src.key} ({src.kind} {src.source}): {exc}",
                                              level="warn", function=src.function))
                poller = None if failures > 2 else poller
                stop.wait(_BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)])
                failures += 1

    def status(self) -> list[dict[str, Any]]:
        out = []
        for key, running in sorted(self._running.items()):
            src = running.src
            out.append({"function": src.function, "event": src.name, "kind": src.kind, "source": src.source,
                        **running.stats.view()})
        return out

    def start(self) -> None:
        self.sync()
        self._thread = threading.Thread(target=self._sync_loop, name="event-sources", daemon=True)
        self._thread.start()

    def _sync_loop(self) -> None:
        while not self._stopping.wait(self._sync_s):
            try:
                self.sync()
            except Exception:
                log.exception("event sources sync failed")

    def stop(self) -> None:
        self._stopping.set()
        for running in self._running.values():
            running.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def stores_client_factory(endpoint: str, region: str, access_key: str, secret_key: str) -> ClientOf:
    """One boto3 client per service, made on first use and shared (botocore clients are thread-safe).

    boto3 is imported on the first client too: a box without event sources or destinations never loads it
    (~20 MB of the manager's RSS, issue 14)."""
    made: dict[str, Any] = {}
    lock = threading.Lock()

    def client(service: str) -> Any:
        with lock:
            if service not in made:
                import boto3
                from botocore.config import Config

                config = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 2},
                                max_pool_connections=MAX_SOURCES + 16)
                made[service] = boto3.client(service, endpoint_url=endpoint, region_name=region, config=config,
                                             aws_access_key_id=access_key, aws_secret_access_key=secret_key)
            return made[service]

    return client


class _ManagerLike(Protocol):
    def current_config(self) -> FunctionsConfig: ...
    def record(self, record: dict[str, Any]) -> None: ...
    def invoke(self, name: str, payload: bytes, *, trace_id: str | None = ...) -> Any: ...


def attach(manager: _ManagerLike, endpoint: str | None, access_key: str | None,
           secret_key: str | None) -> EventSources | None:
    """Started event sources for the manager, or None when the box has no embedded stores to poll."""
    if not endpoint or not access_key or not secret_key:
        return None
    region = manager.current_config().region
    sources = EventSources(manager.current_config, manager.invoke, manager.record,
                           stores_client_factory(endpoint, region, access_key, secret_key))
    sources.start()
    return sources
