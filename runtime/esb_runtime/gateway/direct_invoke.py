"""Proxied invocations without the manager in the data path: a lease from it, the bytes straight to the RIE."""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import gevent
from gevent.event import AsyncResult

from esb_runtime.errors import PayloadTooLarge
from esb_runtime.gateway.manager_client import InvokeResult, ManagerClient
from esb_runtime.manager import lease_protocol as wire
from esb_runtime.manager.invoke import (CRASH, OK, REUSABLE, InvokeResult as RieResult, RieClient,
                                        client_context_header, invoke)

SYNC_LIMIT = 6_291_556  # Lambda's synchronous payload limit (the manager enforces the same)
KEEP_IDLE_S = 1.0  # a kept lease unused this long goes back (the manager's idle reaper then sees it idle)
# A call finding all of this worker's kept leases of its function busy waits for one of them, rather than ask the
# manager, when calls are this fast: under 16 connections the asks and returns were a fifth of the CPU per call.
FAST_CALL_S = 0.01
WAITERS_PER_LEASE = 8  # beyond that many waiting calls per busy kept lease, ask the manager (it may start more)
HANDOFF_WAIT_S = 0.05  # then it asks the manager (a call held up this long is not a fast one)

Schedule = Callable[[float, Callable[[], None]], Any]
RieCall = Callable[..., RieResult]


class Leases(Protocol):
    epoch: int  # which connection to the manager granted what (a kept lease lives no longer than its connection)

    def acquire(self, function: str, trace_id: str | None, timeout_s: float) -> wire.Grant: ...

    def release(self, sandbox: str, outcome: str) -> None: ...

    def subscribe(self, on_recall: Callable[[str], None]) -> None: ...


@dataclass
class _Held:
    grant: wire.Grant
    client: RieClient
    epoch: int
    function: str
    since: float = 0.0  # when it went idle


class DirectInvoker:
    """A ManagerClient whose synchronous calls without a log tail go gateway → RIE over kept-alive connections.

    Lambda's request id and the log tail come from the sandbox's output, which only the manager reads: calls that
    need them (the Invoke API's RequestResponse with Tail, Event) and /health go to the manager as before.

    A lease granted with keep serves this worker's next calls of the function, one at a time, with no round trip
    to the manager (lease_protocol); it goes back when idle for KEEP_IDLE_S, when a call of this worker waits for
    a grant of that function, or when the manager recalls it. While all are busy, a call of a fast function waits
    for the next one to finish (at most WAITERS_PER_LEASE per busy kept lease), else it asks the manager. Waiting
    and asking calls are served in arrival order: a lease that ends goes to the oldest waiting call here, or back
    to the manager when an asking call is older.
    """

    def __init__(self, manager: ManagerClient, leases: Leases, *, max_connections: int = 64,
                 clock: Callable[[], float] = time.monotonic, schedule: Schedule = gevent.spawn_later,
                 rie_call: RieCall = invoke) -> None:
        self._manager, self._leases, self._max = manager, leases, max_connections
        self._clock, self._schedule, self._rie_call = clock, schedule, rie_call
        self._clients: OrderedDict[str, RieClient] = OrderedDict()  # sandbox id -> its kept-alive connection
        self._kept: dict[str, list[_Held]] = {}  # function -> idle kept leases, most recently used last
        self._busy: set[str] = set()  # sandboxes of leases in a call now
        self._recalled: set[str] = set()  # of those, the ones the manager wants back after the call
        self._arrivals = itertools.count()  # the turn of each call that waits, here or at the manager
        self._asking: dict[str, list[int]] = {}  # function -> turns of calls of this worker waiting for a grant
        # function -> keepable leases this worker holds (in a call, handed to a waiting one, or idle)
        self._holding: dict[str, int] = {}
        self._waiting: dict[str, deque[tuple[int, AsyncResult]]] = {}  # function -> calls waiting for one of them
        self._call_s: dict[str, float] = {}  # function -> moving average of a call's time
        self._sweeping = False
        leases.subscribe(self._recall)

    def invoke(self, function: str, payload: bytes, *, trace_id: str, client_context: str | None = None,
               invocation_type: str = "RequestResponse", log_tail: bool = False,
               timeout: float | None = None) -> InvokeResult:
        if invocation_type != "RequestResponse" or log_tail:
            return self._manager.invoke(function, payload, trace_id=trace_id, client_context=client_context,
                                        invocation_type=invocation_type, log_tail=log_tail, timeout=timeout)
        if len(payload) > SYNC_LIMIT:
            raise PayloadTooLarge(f"{len(payload)} byte payload exceeds the RequestResponse limit of {SYNC_LIMIT} bytes")
        context = client_context_header(client_context, trace_id)  # before the lease: a bad context holds nothing
        held = self._take_kept(function) or self._handed(function)
        if held is not None:
            result = self._call(function, held, payload, context)
            if result.delivered:
                return self._answer(result, held)
            # A kept sandbox that died while this worker held it (killed, OOM, its manager gone): the call never
            # reached it, so it goes to a sandbox the manager vouches for, as it would without kept leases.
        held = self._grant(function, trace_id, timeout)
        return self._answer(self._call(function, held, payload, context), held)

    def _call(self, function: str, held: _Held, payload: bytes, context: str | None) -> RieResult:
        grant = held.grant
        self._busy.add(grant.sandbox)
        outcome = CRASH
        began = self._clock()
        try:
            result = self._rie_call(held.client, payload, timeout_s=grant.timeout_s, client_context=context)
            outcome = result.outcome
        finally:
            self._busy.discard(grant.sandbox)
            took = self._clock() - began
            self._call_s[function] = 0.8 * self._call_s.get(function, took) + 0.2 * took
            # The return goes after the call's last byte: the RIE must never see two invocations at once.
            self._done(function, held, outcome)
        return result

    @staticmethod
    def _answer(result: RieResult, held: _Held) -> InvokeResult:
        return InvokeResult(status=200, outcome=result.outcome, request_id=result.request_id or "",
                            payload=result.body, sandbox=held.grant.sandbox)

    def health(self) -> dict[str, Any] | None:
        return self._manager.health()

    def close(self) -> None:
        """Give back every idle kept lease (the worker exits)."""
        kept, self._kept = self._kept, {}
        for held in [held for leases in kept.values() for held in leases]:
            self._give_back(held, OK)

    def _grant(self, function: str, trace_id: str, timeout: float | None) -> _Held:
        turn = next(self._arrivals)
        asking = self._asking.setdefault(function, [])
        asking.append(turn)  # turns only grow: asking[0] is the oldest
        try:
            grant = self._leases.acquire(function, trace_id, 960.0 if timeout is None else timeout)
        finally:
            asking.remove(turn)
        client = self._clients.pop(grant.sandbox, None) or RieClient(grant.invoke_url)  # out while in use
        if grant.keep:
            self._holding[function] = self._holding.get(function, 0) + 1
        return _Held(grant, client, self._leases.epoch, function)

    def _handed(self, function: str) -> _Held | None:
        """One of this worker's kept leases of `function` as its call ends, when that is likely soon."""
        call_s = self._call_s.get(function)
        waiting = self._waiting.setdefault(function, deque())
        holding = self._holding.get(function, 0)  # none idle: each busy, or on its way to a waiting call
        if call_s is None or call_s > FAST_CALL_S or len(waiting) >= WAITERS_PER_LEASE * holding:
            return None
        handoff = AsyncResult()
        waiting.append((next(self._arrivals), handoff))
        try:
            return handoff.get(timeout=HANDOFF_WAIT_S)  # type: ignore[no-any-return]
        except gevent.Timeout:
            return handoff.get_nowait() if handoff.ready() else None  # type: ignore[no-any-return]
        finally:
            for entry in waiting:
                if entry[1] is handoff:
                    waiting.remove(entry)
                    break

    def _take_kept(self, function: str) -> _Held | None:
        kept = self._kept.get(function)
        while kept:
            held = kept.pop()
            if held.epoch == self._leases.epoch:
                return held
            held.client.close()  # granted on a connection that broke: the manager recycled that sandbox
            self._holding[function] -= 1
        return None

    def _done(self, function: str, held: _Held, outcome: str) -> None:
        sandbox = held.grant.sandbox
        recalled = sandbox in self._recalled
        self._recalled.discard(sandbox)
        keep = outcome in REUSABLE and held.grant.keep and not recalled and held.epoch == self._leases.epoch
        waiting, asking = self._waiting.get(function), self._asking.get(function)
        while keep and waiting and not (asking and asking[0] < waiting[0][0]):
            handoff = waiting.popleft()[1]
            if not handoff.ready():
                handoff.set(held)  # straight to a call of this worker that waits for it
                return
        if keep and not asking:
            held.since = self._clock()
            self._kept.setdefault(function, []).append(held)
            self._sweep_later()
            return
        self._give_back(held, outcome)

    def _give_back(self, held: _Held, outcome: str) -> None:
        if held.grant.keep:
            self._holding[held.function] -= 1
        self._keep_connection(held.grant.sandbox, held.client, outcome in REUSABLE)
        self._leases.release(held.grant.sandbox, outcome)

    def _recall(self, sandbox: str) -> None:
        """The manager wants `sandbox` back: now when it is idle here, after its call when it is in one."""
        for kept in self._kept.values():
            for held in kept:
                if held.grant.sandbox == sandbox:
                    kept.remove(held)
                    self._give_back(held, OK)
                    return
        if sandbox in self._busy:
            self._recalled.add(sandbox)

    def _sweep_later(self) -> None:
        if not self._sweeping:
            self._sweeping = True
            self._schedule(KEEP_IDLE_S, self._sweep)

    def _sweep(self) -> None:
        """Give back the kept leases idle for KEEP_IDLE_S; look again later while any are kept."""
        self._sweeping = False
        now = self._clock()
        for function, kept in self._kept.items():
            stale = [held for held in kept if now - held.since >= KEEP_IDLE_S]
            self._kept[function] = [held for held in kept if now - held.since < KEEP_IDLE_S]
            for held in stale:
                self._give_back(held, OK)
        if any(self._kept.values()):
            self._sweep_later()

    def _keep_connection(self, sandbox: str, client: RieClient, reusable: bool) -> None:
        if not reusable:  # the manager recycles the sandbox; its port may serve another one later
            client.close()
            return
        self._clients[sandbox] = client  # most recently used last
        while len(self._clients) > self._max:
            self._clients.popitem(last=False)[1].close()
