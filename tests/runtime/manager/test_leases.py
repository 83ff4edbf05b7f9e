"""The lease socket: the manager's sessions and the gateway's client, over a real unix socket with a fake manager."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import gevent
import gevent.event
import pytest

from esb_runtime.errors import ManagerUnavailable, TooManyRequests
from esb_runtime.gateway.leases import LeaseClient
from esb_runtime.manager import lease_protocol as wire
from esb_runtime.manager.lease_server import make_lease_server


class FakeLeases:
    """Grants sandboxes sb-1, sb-2, ... of known functions; refuses `busy` with 429; records every return."""

    def __init__(self) -> None:
        self.granted: list[tuple[str, str | None]] = []
        self.returned: list[tuple[str, str]] = []
        self.hold = gevent.event.Event()
        self.hold.set()
        self.recall: Callable[[str, bool], None] | None = None
        self.on_grant: Callable[[], None] = lambda: None  # what the manager does while granting (a recall)
        self.keep = False

    def grant(self, name: str, trace_id: str | None, *, wait: bool = True) -> wire.Grant | None:
        if not wait and not self.hold.is_set():
            return None  # nothing idle: the session asks again, waiting, in a greenlet of its own
        self.hold.wait()
        if name == "busy":
            raise TooManyRequests("busy: all 1 sandboxes busy for 0.1 s")
        self.granted.append((name, trace_id))
        self.on_grant()
        return wire.Grant(f"sb-{len(self.granted)}", f"http://127.0.0.1:9/{name}", 3, self.keep)

    def release(self, sandbox_id: str, outcome: str) -> None:
        self.returned.append((sandbox_id, outcome))

    def recall_through(self, recall: Callable[[str, bool], None]) -> None:
        self.recall = recall


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeLeases, Path]]:
    leases = FakeLeases()
    path = tmp_path / "state" / "leases.sock"
    server = make_lease_server(leases, path)
    server.start()
    yield leases, path
    server.stop(timeout=1)


def settle() -> None:
    gevent.sleep(0.05)  # let the server's greenlets read what was sent


def test_grant_carries_the_trace_and_the_return_its_outcome(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client = LeaseClient(path)
    grant = client.acquire("fn", "Root=1-5f84c7a1-0123456789abcdef01234567;Sampled=1", 5)
    assert grant == wire.Grant("sb-1", "http://127.0.0.1:9/fn", 3)
    assert leases.granted == [("fn", "Root=1-5f84c7a1-0123456789abcdef01234567;Sampled=1")]
    client.release(grant.sandbox, "ok")
    settle()
    assert leases.returned == [("sb-1", "ok")]
    client.close()


def test_refusal_becomes_the_runtime_error_of_its_status(served: tuple[FakeLeases, Path]) -> None:
    _, path = served
    client = LeaseClient(path)
    with pytest.raises(TooManyRequests, match="all 1 sandboxes busy"):
        client.acquire("busy", None, 5)
    client.close()


def test_concurrent_grants_on_one_connection_each_get_their_own(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client = LeaseClient(path)
    jobs = [gevent.spawn(client.acquire, f"fn{i}", f"trace-{i}", 5) for i in range(8)]
    gevent.joinall(jobs, raise_error=True)
    by_function = {job.value.invoke_url.rsplit("/", 1)[1]: job.value.sandbox for job in jobs}
    assert sorted(by_function) == [f"fn{i}" for i in range(8)]
    assert len(set(by_function.values())) == 8
    client.close()


def test_a_closed_connection_returns_every_held_lease_as_abandoned(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client = LeaseClient(path)
    first, second = client.acquire("fn", None, 5), client.acquire("fn", None, 5)
    client.release(first.sandbox, "ok")
    client.close()  # the worker died with `second` in flight: the manager must not hand it out again as is
    settle()
    assert sorted(leases.returned) == [(first.sandbox, "ok"), (second.sandbox, wire.ABANDONED)]


def test_a_grant_nobody_waits_for_any_more_goes_back(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client = LeaseClient(path)
    leases.hold.clear()
    with pytest.raises(ManagerUnavailable, match="no lease for fn"):
        client.acquire("fn", None, 0.05)
    leases.hold.set()
    settle()
    assert leases.returned == [("sb-1", wire.ABANDONED)]
    assert client.acquire("fn", None, 0.5).sandbox == "sb-2"  # the connection still answers at once
    client.close()


def test_returns_of_leases_the_session_does_not_hold_are_ignored(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client = LeaseClient(path)
    client.release("sb-99", "ok")  # e.g. granted on a connection that broke since
    client._send(b"garbage\n")
    grant = client.acquire("fn", None, 5)  # the session still serves
    settle()
    assert grant.sandbox == "sb-1" and leases.returned == []
    client.close()


def test_no_manager_is_a_clear_unavailable(tmp_path: Path) -> None:
    client = LeaseClient(tmp_path / "nothing.sock")
    with pytest.raises(ManagerUnavailable, match="unreachable"):
        client.acquire("fn", None, 1)


def test_a_manager_that_goes_away_fails_the_waiting_grants(served: tuple[FakeLeases, Path], tmp_path: Path) -> None:
    leases, path = served
    client = LeaseClient(path)
    client.acquire("fn", None, 5)  # connected
    leases.hold.clear()
    waiting = gevent.spawn(client.acquire, "fn", None, 5)
    settle()
    client._sock.shutdown(2)  # the connection breaks under the waiting grant
    with pytest.raises(ManagerUnavailable, match="closed the lease socket"):
        waiting.get(timeout=2)
    leases.hold.set()
    client.close()


def test_a_failed_call_returns_only_once_the_manager_recorded_it(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client = LeaseClient(path)
    grant = client.acquire("fn", None, 5)
    client.release(grant.sandbox, "crash")  # no settle(): the caller's next request must meet the breaker
    assert leases.returned == [(grant.sandbox, "crash")]
    client.close()


def test_a_kept_grant_is_recalled_through_the_session_that_holds_it(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    client, recalled = LeaseClient(path), []
    client.subscribe(recalled.append)
    leases.keep = True
    grant = client.acquire("fn", None, 5)
    assert grant.keep and client.epoch == 1
    assert leases.recall is not None
    leases.recall(grant.sandbox, False)
    leases.recall("sb-99", False)  # held by nobody: nothing is sent
    settle()
    assert recalled == [grant.sandbox]
    client.release(grant.sandbox, "ok")
    settle()
    leases.recall(grant.sandbox, False)  # returned since: no longer this session's
    settle()
    assert recalled == [grant.sandbox] and leases.returned == [(grant.sandbox, "ok")]
    client.close()


def test_a_shortage_recalls_from_other_sessions_only_a_rebuild_from_all(served: tuple[FakeLeases, Path]) -> None:
    leases, path = served
    holder, other = LeaseClient(path), LeaseClient(path)
    recalled: list[str] = []
    holder.subscribe(recalled.append)
    leases.keep = True
    kept = holder.acquire("fn", None, 5)
    assert leases.recall is not None
    recall = leases.recall
    leases.on_grant = lambda: recall(kept.sandbox, True)  # no idle sandbox for this grant: recall kept ones
    holder.acquire("fn", None, 5)  # the holder's own ask: it hands its kept lease back by itself
    settle()
    assert recalled == []
    other.acquire("fn", None, 5)
    settle()
    assert recalled == [kept.sandbox]
    leases.on_grant = lambda: recall(kept.sandbox, False)  # a rebuild noticed during the holder's own grant
    holder.acquire("fn", None, 5)
    settle()
    assert recalled == [kept.sandbox, kept.sandbox]
    holder.close()
    other.close()
