"""The manager's lease socket: gateway workers hold sandboxes here and call their RIE directly (issue 14)."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import Callable, Protocol

import gevent
from gevent import socket as gsocket
from gevent.lock import Semaphore
from gevent.server import StreamServer

from esb_runtime.errors import RuntimeBoxError
from esb_runtime.manager import lease_protocol as wire
from esb_runtime.manager.invoke import REUSABLE
from esb_runtime.manager.server import unix_listener

log = logging.getLogger(__name__)


class Leases(Protocol):
    """What a session needs of the manager (Manager.grant/release; fakes in tests)."""

    def grant(self, name: str, trace_id: str | None, *, wait: bool = True) -> wire.Grant | None: ...

    def release(self, sandbox_id: str, outcome: str) -> None: ...

    def recall_through(self, recall: Callable[[str, bool], None]) -> None:
        """How the manager asks a holder to return a kept lease (Holders.recall)."""


class Holders:
    """Which session holds which lease, so the manager can recall a kept one.

    A shortage (someone waits for a sandbox) never recalls from the session whose grant it is: that worker
    returns its own kept leases to its waiting ask by itself (DirectInvoker), and recalling them each time it
    asked, under 16 connections, was a storm of recalls and returns. A rebuild recalls from everyone."""

    def __init__(self) -> None:
        self._by_sandbox: dict[str, Session] = {}
        self._asking = threading.local()  # per greenlet in the manager (monkey-patched): the session granting

    def granting(self, session: Session | None) -> None:
        self._asking.session = session

    def held(self, sandbox: str, session: Session) -> None:
        self._by_sandbox[sandbox] = session

    def returned(self, sandbox: str, session: Session) -> None:
        if self._by_sandbox.get(sandbox) is session:
            del self._by_sandbox[sandbox]

    def recall(self, sandbox: str, shortage: bool = False) -> None:
        session = self._by_sandbox.get(sandbox)
        if session is None or (shortage and session is getattr(self._asking, "session", None)):
            return
        session.send(wire.encode(wire.RECALL, sandbox))


class Session:
    """One gateway worker's connection: its grants, its returns, and on close the return of whatever it held."""

    def __init__(self, sock: socket.socket, leases: Leases, holders: Holders | None = None) -> None:
        self._sock, self._leases = sock, leases
        self._holders = holders or Holders()
        self._send_lock = Semaphore()
        self.held: set[str] = set()

    def serve(self) -> None:
        stream = self._sock.makefile("rb")
        try:
            for line in stream:
                self._dispatch(wire.decode(line))
        except OSError:
            pass  # the worker went away mid-line: same as a close
        finally:
            stream.close()
            self.close()

    def _dispatch(self, fields: list[str]) -> None:
        kind = fields[0]
        if kind == wire.ACQUIRE and len(fields) == 4:
            self._grant(fields[1], fields[2], fields[3] or None)
        elif kind == wire.RELEASE and len(fields) == 3 and fields[2] in REUSABLE:
            if fields[1] in self.held:
                self._return(fields[1], fields[2])
        elif kind == wire.FAILED and len(fields) == 4:
            gevent.spawn(self._failed, fields[1], fields[2], fields[3])  # a recycle stops the sandbox: not here
        else:
            log.warning("lease socket: malformed message %r", fields[:2])

    def _failed(self, seq: str, sandbox: str, outcome: str) -> None:
        if sandbox in self.held:
            self._return(sandbox, outcome)
        self.send(wire.encode(wire.DONE, seq))

    def _grant(self, seq: str, function: str, trace: str | None, wait: bool = False) -> None:
        """A warm idle sandbox is granted right here, on the reading greenlet; waiting for one or starting one
        gets a greenlet of its own (spawning one per call was a tenth of the manager's time)."""
        self._holders.granting(self)
        try:
            grant = self._leases.grant(function, trace, wait=wait)
        except RuntimeBoxError as exc:
            self.send(wire.encode(wire.ERROR, seq, exc.status, exc.message))
            return
        except Exception:  # noqa: BLE001 - a bug must cost this grant, not the worker's whole session
            log.exception("lease socket: grant of %s failed", function)
            self.send(wire.encode(wire.ERROR, seq, 500, f"the manager failed to lease a sandbox of {function}"))
            return
        finally:
            self._holders.granting(None)
        if grant is None:
            gevent.spawn(self._grant, seq, function, trace, True)
        else:
            self._granted(seq, grant)

    def _granted(self, seq: str, grant: wire.Grant) -> None:
        self.held.add(grant.sandbox)
        self._holders.held(grant.sandbox, self)
        if not self.send(wire.encode(wire.GRANT, seq, grant.sandbox, grant.invoke_url, grant.timeout_s,
                                     int(grant.keep))):
            self._return(grant.sandbox, wire.ABANDONED)

    def _return(self, sandbox: str, outcome: str) -> None:
        self.held.discard(sandbox)
        self._holders.returned(sandbox, self)
        try:
            self._leases.release(sandbox, outcome)
        except RuntimeBoxError as exc:
            log.warning("lease socket: %s", exc.message)

    def send(self, data: bytes) -> bool:
        try:
            with self._send_lock:
                self._sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self) -> None:
        for sandbox in list(self.held):
            self._return(sandbox, wire.ABANDONED)
        self._sock.close()


def make_lease_server(leases: Leases, path: Path) -> StreamServer:
    """A gevent stream server on the lease socket (0600, beside the manager socket)."""
    plain = unix_listener(path)
    # A cooperative listener even where socket is not monkey-patched (tests): a blocking accept would stall the hub.
    listener = gsocket.socket(plain.family, plain.type, fileno=plain.detach())
    holders = Holders()
    leases.recall_through(holders.recall)
    return StreamServer(listener, lambda sock, _addr: Session(sock, leases, holders).serve())
