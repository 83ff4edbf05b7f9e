"""Proxied calls straight to a sandbox: the raw RIE client and the gateway's DirectInvoker, against a fake RIE."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from esb_runtime.errors import PayloadTooLarge, TooManyRequests
from esb_runtime.gateway.direct_invoke import KEEP_IDLE_S, WAITERS_PER_LEASE, DirectInvoker
from esb_runtime.gateway.manager_client import InvokeResult
from esb_runtime.manager import lease_protocol as wire
from esb_runtime.manager.invoke import InvokeResult as RieResult, RieClient, client_context_header, invoke
from esb_runtime.sandbox.bootstrap import TRACE_KEY

CRASH_BODY = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "RequestId: x Error: exit status 1"})


class FakeRie(BaseHTTPRequestHandler):
    """Answers like the RIE: 200 with the body; `crash` → 502; `chunked` → chunks; `close` → Connection: close."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []
    connections = 0  # one handler per accepted connection (ids of closed sockets get reused: count instead)

    def setup(self) -> None:
        super().setup()
        FakeRie.connections += 1

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeRie.seen.append({"body": body, "context": self.headers.get("X-Amz-Client-Context")})
        kind = json.loads(body).get("kind", "ok")
        status, answer = (502, CRASH_BODY.encode()) if kind == "crash" else (200, b'{"statusCode": 200}')
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if kind == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (answer[:5], answer[5:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(answer)))
        if kind == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def rie_url() -> Iterator[str]:
    FakeRie.seen, FakeRie.connections = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRie)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/2015-03-31/functions/function/invocations"
    server.shutdown()
    server.server_close()


class FakeLeases:
    def __init__(self, url: str, keep: bool = False, distinct: bool = False) -> None:
        self.url, self.keep, self.distinct = url, keep, distinct  # distinct: sb-1, sb-2, ... else always sb-1
        self.log: list[tuple[str, ...]] = []
        self.epoch = 1
        self.recall: Callable[[str], None] = lambda sandbox: None

    def acquire(self, function: str, trace_id: str | None, timeout_s: float) -> wire.Grant:
        if function == "throttled":
            raise TooManyRequests("throttled: reserved concurrency is 0")
        self.log.append(("acquire", function, trace_id or ""))
        granted = sum(1 for entry in self.log if entry[0] == "acquire") if self.distinct else 1
        return wire.Grant(f"sb-{granted}", self.url, 3, self.keep)

    def release(self, sandbox: str, outcome: str) -> None:
        self.log.append(("release", sandbox, outcome))

    def subscribe(self, on_recall: Callable[[str], None]) -> None:
        self.recall = on_recall


class Later:
    """The invoker's scheduler and clock, run by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def schedule(self, delay: float, run: Callable[[], None]) -> None:
        self.due.append((self.now + delay, run))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        ready = [run for at, run in self.due if at <= self.now]
        self.due = [(at, run) for at, run in self.due if at > self.now]
        for run in ready:
            run()


class FakeManager:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, function: str, payload: bytes, **kwargs: Any) -> InvokeResult:
        self.calls.append({"function": function, **kwargs})
        return InvokeResult(200, "ok", "req-from-manager", b"{}", log_tail="dGFpbA==")

    def health(self) -> dict[str, Any] | None:
        return {"status": "ok"}


def test_raw_client_reads_lengths_chunks_and_reconnects_after_close(rie_url: str) -> None:
    client = RieClient(rie_url)
    assert client.post(b'{"kind": "ok"}', None, 5) == (200, b'{"statusCode": 200}')
    assert client.post(b'{"kind": "chunked"}', None, 5) == (200, b'{"statusCode": 200}')
    assert client.post(b'{"kind": "close"}', None, 5)[0] == 200
    assert client.post(b'{"kind": "ok"}', None, 5)[0] == 200  # a fresh connection after the server closed it
    assert FakeRie.connections == 2  # kept alive until the server said close
    client.close()


def test_a_call_goes_to_the_rie_under_a_lease_with_the_trace_carried(rie_url: str) -> None:
    leases = FakeLeases(rie_url)
    invoker = DirectInvoker(FakeManager(), leases)
    result = invoker.invoke("fn", b'{"kind": "ok"}', trace_id="Root=1-abc;Sampled=1")
    assert (result.status, result.outcome, result.payload) == (200, "ok", b'{"statusCode": 200}')
    assert leases.log == [("acquire", "fn", "Root=1-abc;Sampled=1"), ("release", "sb-1", "ok")]
    context = json.loads(base64.b64decode(FakeRie.seen[0]["context"]))
    assert context["custom"][TRACE_KEY] == "Root=1-abc;Sampled=1"


def test_a_crash_returns_the_lease_as_crash_and_drops_the_connection(rie_url: str) -> None:
    leases = FakeLeases(rie_url)
    invoker = DirectInvoker(FakeManager(), leases)
    assert invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t").outcome == "ok"
    crashed = invoker.invoke("fn", b'{"kind": "crash"}', trace_id="t")
    assert crashed.outcome == "crash" and b"Runtime.ExitError" in crashed.payload
    assert leases.log[-1] == ("release", "sb-1", "crash")
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    assert FakeRie.connections == 2  # the recycled sandbox's connection was not reused


def test_an_unreachable_sandbox_is_a_crash_and_the_lease_still_goes_back() -> None:
    leases = FakeLeases("http://127.0.0.1:9/2015-03-31/functions/function/invocations")
    result = DirectInvoker(FakeManager(), leases).invoke("fn", b"{}", trace_id="t")
    assert result.outcome == "crash" and leases.log[-1] == ("release", "sb-1", "crash")


def test_refusals_and_limits_hold_no_lease(rie_url: str) -> None:
    leases = FakeLeases(rie_url)
    invoker = DirectInvoker(FakeManager(), leases)
    with pytest.raises(TooManyRequests):
        invoker.invoke("throttled", b"{}", trace_id="t")
    with pytest.raises(PayloadTooLarge):
        invoker.invoke("fn", b"x" * 6_291_557, trace_id="t")
    assert leases.log == [] and FakeRie.seen == []


def test_event_and_tail_calls_go_through_the_manager(rie_url: str) -> None:
    manager, leases = FakeManager(), FakeLeases(rie_url)
    invoker = DirectInvoker(manager, leases)
    invoker.invoke("fn", b"{}", trace_id="t", invocation_type="Event")
    tailed = invoker.invoke("fn", b"{}", trace_id="t", log_tail=True)
    assert tailed.request_id == "req-from-manager" and tailed.log_tail == "dGFpbA=="
    assert [c["invocation_type"] for c in manager.calls] == ["Event", "RequestResponse"]
    assert leases.log == [] and invoker.health() == {"status": "ok"}


def kept_invoker(leases: FakeLeases) -> tuple[DirectInvoker, Later]:
    later = Later()
    return DirectInvoker(FakeManager(), leases, clock=lambda: later.now, schedule=later.schedule), later


def test_a_kept_lease_serves_the_next_calls_without_asking_and_goes_back_when_idle(rie_url: str) -> None:
    leases = FakeLeases(rie_url, keep=True)
    invoker, later = kept_invoker(leases)
    for trace in ("t1", "t2", "t3"):
        assert invoker.invoke("fn", b'{"kind": "ok"}', trace_id=trace).outcome == "ok"
    assert leases.log == [("acquire", "fn", "t1")]
    traces = [json.loads(base64.b64decode(seen["context"]))["custom"][TRACE_KEY] for seen in FakeRie.seen]
    assert traces == ["t1", "t2", "t3"]  # each call carries its own trace to the sandbox
    later.advance(KEEP_IDLE_S / 2)
    assert leases.log[-1][0] == "acquire"
    later.advance(KEEP_IDLE_S)
    assert leases.log[-1] == ("release", "sb-1", "ok")
    assert FakeRie.connections == 1



def test_a_closing_invoker_gives_its_kept_leases_back(rie_url: str) -> None:
    leases = FakeLeases(rie_url, keep=True)
    invoker, _ = kept_invoker(leases)
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    invoker.close()  # the worker exits: returned as idle, not abandoned (which would recycle the sandbox)
    assert leases.log == [("acquire", "fn", "t"), ("release", "sb-1", "ok")]


def test_a_failed_call_on_a_kept_lease_returns_it_as_failed(rie_url: str) -> None:
    leases = FakeLeases(rie_url, keep=True)
    invoker, _ = kept_invoker(leases)
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    assert invoker.invoke("fn", b'{"kind": "crash"}', trace_id="t").outcome == "crash"
    assert leases.log == [("acquire", "fn", "t"), ("release", "sb-1", "crash")]


def test_a_kept_sandbox_that_died_idle_is_replaced_without_the_caller_seeing_it(rie_url: str) -> None:
    """Refused on a kept lease (the sandbox was killed while this worker held it): the call never ran, so it
    goes to a fresh grant; the dead one goes back as a crash (the manager recycles it)."""
    calls: list[str] = []

    def rie_call(client: Any, payload: bytes, **kwargs: Any) -> Any:
        calls.append(f"{client.port}")
        if len(calls) == 2:  # the kept sandbox is gone: nothing listens on its port any more
            return RieResult("crash", b"refused", delivered=False)
        return invoke(client, payload, **kwargs)

    leases = FakeLeases(rie_url, keep=True, distinct=True)
    later = Later()
    invoker = DirectInvoker(FakeManager(), leases, clock=lambda: later.now, schedule=later.schedule,
                            rie_call=rie_call)
    assert invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t1").outcome == "ok"
    second = invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t2")
    assert (second.outcome, second.sandbox) == ("ok", "sb-2")
    assert leases.log == [("acquire", "fn", "t1"), ("release", "sb-1", "crash"), ("acquire", "fn", "t2")]
    assert len(calls) == 3 and len(FakeRie.seen) == 2  # the refused call reached no sandbox


def test_a_refused_fresh_grant_is_not_retried() -> None:
    """A sandbox the manager just granted and that refuses is answered as a crash (no loop of grants)."""
    leases = FakeLeases("http://127.0.0.1:9/2015-03-31/functions/function/invocations", keep=True)
    result = DirectInvoker(FakeManager(), leases).invoke("fn", b"{}", trace_id="t")
    assert result.outcome == "crash"
    assert leases.log == [("acquire", "fn", "t"), ("release", "sb-1", "crash")]


def test_a_recall_returns_an_idle_kept_lease_at_once(rie_url: str) -> None:
    leases = FakeLeases(rie_url, keep=True)
    invoker, _ = kept_invoker(leases)
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    leases.recall("sb-1")
    assert leases.log[-1] == ("release", "sb-1", "ok")
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    assert [entry[0] for entry in leases.log] == ["acquire", "release", "acquire"]


def test_a_recall_during_the_call_returns_the_lease_after_it(rie_url: str) -> None:
    leases = FakeLeases(rie_url, keep=True)
    invoker, _ = kept_invoker(leases)

    class Recalling(FakeRie):
        def do_POST(self) -> None:  # noqa: N802
            leases.recall("sb-1")  # the manager's recall arrives while the sandbox runs the call
            super().do_POST()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    leases.url = f"http://127.0.0.1:{server.server_address[1]}/x"
    try:
        invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    finally:
        server.shutdown()
        server.server_close()
    assert leases.log == [("acquire", "fn", "t"), ("release", "sb-1", "ok")]


def test_a_kept_lease_of_a_broken_manager_connection_is_never_used(rie_url: str) -> None:
    leases = FakeLeases(rie_url, keep=True)
    invoker, _ = kept_invoker(leases)
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    leases.epoch += 1  # the lease socket reconnected: the manager recycled what the old connection held
    invoker.invoke("fn", b'{"kind": "ok"}', trace_id="t")
    assert [entry[0] for entry in leases.log] == ["acquire", "acquire"]


def test_a_fast_functions_call_waits_for_the_workers_own_busy_lease_rather_than_ask() -> None:
    import gevent


    in_call: list[str] = []

    def rie_call(client: RieClient, payload: bytes, **_: Any) -> RieResult:
        in_call.append(client.port)
        gevent.sleep(0.004)  # a 4 ms call
        return RieResult("ok", b"{}")

    leases = FakeLeases("http://127.0.0.1:9/x", keep=True, distinct=True)
    invoker = DirectInvoker(FakeManager(), leases, rie_call=rie_call)
    invoker.invoke("fn", b"{}", trace_id="warm")  # one call measured, its lease kept
    calls = [gevent.spawn(invoker.invoke, "fn", b"{}", trace_id=f"t{n}") for n in range(WAITERS_PER_LEASE + 2)]
    gevent.joinall(calls, raise_error=True)
    # The first takes the kept lease, the next wait for it, up to WAITERS_PER_LEASE: the last one asks.
    assert [entry[0] for entry in leases.log] == ["acquire", "acquire"]
    assert {call.value.sandbox for call in calls} == {"sb-1", "sb-2"}  # a waiter takes whichever ends first
    assert len(in_call) == WAITERS_PER_LEASE + 3


def test_a_call_asking_the_manager_is_served_before_calls_that_came_later() -> None:
    """A lease that ends goes back to the manager when an asking call is older than every call waiting here:
    handed to the waiting ones first, those asking could wait until throttled."""
    import gevent


    class SlowGrants(FakeLeases):
        def acquire(self, function: str, trace_id: str | None, timeout_s: float) -> wire.Grant:
            grant = super().acquire(function, trace_id, timeout_s)
            if len(self.log) > 1:
                gevent.sleep(0.2)  # no sandbox idle: the manager answers when one frees or starts
            return grant

    def rie_call(client: RieClient, payload: bytes, **_: Any) -> RieResult:
        gevent.sleep(0.004)
        return RieResult("ok", b"{}")

    leases = SlowGrants("http://127.0.0.1:9/x", keep=True, distinct=True)
    invoker = DirectInvoker(FakeManager(), leases, rie_call=rie_call)
    invoker.invoke("fn", b"{}", trace_id="warm")
    first = [gevent.spawn(invoker.invoke, "fn", b"{}", trace_id=f"t{n}") for n in range(WAITERS_PER_LEASE + 2)]
    gevent.sleep(0.006)  # one on the kept lease, the next waiting for it, the last asking; one waiter served
    later = gevent.spawn(invoker.invoke, "fn", b"{}", trace_id="later")  # room to wait: it waits, after the ask
    gevent.joinall([*first, later], raise_error=True)
    # The kept lease went back for the older ask; the later call, its wait over, asked in turn.
    asked = [entry[2] for entry in leases.log if entry[0] == "acquire"]
    assert asked == ["warm", f"t{WAITERS_PER_LEASE + 1}", "later"]
    assert ("release", "sb-1", "ok") in leases.log


@pytest.mark.parametrize("trace", ["Root=1-5f84c0d2-0123456789abcdef01234567;Sampled=1", 'odd "quoted" \\ value'])
def test_a_trace_only_client_context_is_the_json_of_the_carrier(trace: str) -> None:
    # Built without a JSON round trip on every proxied call; it must equal what the general path gives.
    header = client_context_header(None, trace)
    assert header is not None and json.loads(base64.b64decode(header)) == {"custom": {TRACE_KEY: trace}}
    assert client_context_header(None, None) is None
