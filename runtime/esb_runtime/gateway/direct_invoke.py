"""Proxied invocations without the manager in the data path: a lease from it, the bytes straight to the RIE."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from esb_runtime.errors import PayloadTooLarge
from esb_runtime.gateway.manager_client import InvokeResult, ManagerClient
from esb_runtime.manager import lease_protocol as wire
from esb_runtime.manager.invoke import CRASH, REUSABLE, RieClient, client_context_header, invoke

SYNC_LIMIT = 6_291_556  # Lambda's synchronous payload limit (the manager enforces the same)


class Leases(Protocol):
    def acquire(self, function: str, trace_id: str | None, timeout_s: float) -> wire.Grant: ...

    def release(self, sandbox: str, outcome: str) -> None: ...


class DirectInvoker:
    """A ManagerClient whose synchronous calls without a log tail go gateway → RIE over kept-alive connections.

    Lambda's request id and the log tail come from the sandbox's output, which only the manager reads: calls that
    need them (the Invoke API's RequestResponse with Tail, Event) and /health go to the manager as before.
    """

    def __init__(self, manager: ManagerClient, leases: Leases, *, max_connections: int = 64) -> None:
        self._manager, self._leases, self._max = manager, leases, max_connections
        self._clients: OrderedDict[str, RieClient] = OrderedDict()  # sandbox id -> its kept-alive connection

    def invoke(self, function: str, payload: bytes, *, trace_id: str, client_context: str | None = None,
               invocation_type: str = "RequestResponse", log_tail: bool = False,
               timeout: float | None = None) -> InvokeResult:
        if invocation_type != "RequestResponse" or log_tail:
            return self._manager.invoke(function, payload, trace_id=trace_id, client_context=client_context,
                                        invocation_type=invocation_type, log_tail=log_tail, timeout=timeout)
        if len(payload) > SYNC_LIMIT:
            raise PayloadTooLarge(f"{len(payload)} byte payload exceeds the RequestResponse limit of {SYNC_LIMIT} bytes")
        context = client_context_header(client_context, trace_id)  # before the lease: a bad context holds nothing
        grant = self._leases.acquire(function, trace_id, 960.0 if timeout is None else timeout)
        outcome = CRASH
        client = self._clients.pop(grant.sandbox, None) or RieClient(grant.invoke_url)  # out while in use
        try:
            result = invoke(client, payload, timeout_s=grant.timeout_s, client_context=context)
            outcome = result.outcome
        finally:
            self._keep(grant.sandbox, client, outcome in REUSABLE)
            # The return goes after the call's last byte: the RIE must never see two invocations at once.
            self._leases.release(grant.sandbox, outcome)
        return InvokeResult(status=200, outcome=result.outcome, request_id=result.request_id or "",
                            payload=result.body, sandbox=grant.sandbox)

    def health(self) -> dict[str, Any] | None:
        return self._manager.health()

    def _keep(self, sandbox: str, client: RieClient, reusable: bool) -> None:
        if not reusable:  # the manager recycles the sandbox; its port may serve another one later
            client.close()
            return
        self._clients[sandbox] = client  # most recently used last
        while len(self._clients) > self._max:
            self._clients.popitem(last=False)[1].close()
