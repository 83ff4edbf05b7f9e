"""The gateway worker's side of the manager's lease socket: one multiplexed connection, one round trip per grant."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable

import gevent
from gevent import socket
from gevent.event import AsyncResult
from gevent.lock import Semaphore

from esb_runtime.errors import ManagerUnavailable
from esb_runtime.gateway.manager_client import error_for
from esb_runtime.manager import lease_protocol as wire
from esb_runtime.manager.invoke import REUSABLE


class LeaseClient:
    """Grants wait on their sequence number; returns are one line with no answer (the manager does the rest).

    The connection is opened on first use (in the gunicorn worker, after the fork) and again after it breaks;
    leases granted on a broken connection were recycled by the manager, so nothing carries over: `epoch` counts
    the connections, and a kept lease is only good on the connection that granted it.
    """

    def __init__(self, socket_path: Path | str, *, connect_timeout_s: float = 2.0) -> None:
        self._path = str(socket_path)
        self._connect_timeout_s = connect_timeout_s
        self._sock: socket.socket | None = None
        self._waiting: dict[str, AsyncResult] = {}
        self._seq = itertools.count(1)
        self._send_lock = Semaphore()
        self.epoch = 0
        self._on_recall: Callable[[str], None] = lambda sandbox: None

    def subscribe(self, on_recall: Callable[[str], None]) -> None:
        """Who hears the manager's recalls of kept leases (the DirectInvoker)."""
        self._on_recall = on_recall

    def acquire(self, function: str, trace_id: str | None, timeout_s: float) -> wire.Grant:
        try:
            fields = self._ask(wire.ACQUIRE, function, trace_id or "", timeout_s=timeout_s)
        except gevent.Timeout as exc:
            raise ManagerUnavailable(f"no lease for {function} in {timeout_s:g} s") from exc
        if fields[0] == wire.ERROR:
            raise error_for(int(fields[2]), fields[3] if len(fields) > 3 else "")
        return wire.Grant(fields[2], fields[3], int(fields[4]), len(fields) > 5 and fields[5] == "1")

    def release(self, sandbox: str, outcome: str, *, wait_s: float = 10.0) -> None:
        """Return a lease. A failed call's return waits until the manager recorded it (see lease_protocol)."""
        try:
            if outcome in REUSABLE:
                self._send(wire.encode(wire.RELEASE, sandbox, outcome))
            else:
                self._ask(wire.FAILED, sandbox, outcome, timeout_s=wait_s)
        except (ManagerUnavailable, gevent.Timeout):
            pass  # the connection broke (the manager recycled every lease it carried), or it was recorded late

    def _ask(self, kind: str, *fields: object, timeout_s: float) -> list[str]:
        """Send a message the manager answers under its sequence number; the answer's fields."""
        seq = str(next(self._seq))
        answer = AsyncResult()
        self._waiting[seq] = answer
        try:
            self._send(wire.encode(kind, seq, *fields))
            return answer.get(timeout=timeout_s)
        finally:
            self._waiting.pop(seq, None)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            _hang_up(sock)

    def _send(self, line: bytes) -> None:
        with self._send_lock:
            sock = self._sock or self._connect()
            try:
                sock.sendall(line)
            except OSError as exc:
                self._broken(sock)
                raise ManagerUnavailable(f"lease socket {self._path}: {exc}") from exc

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._connect_timeout_s)
        try:
            sock.connect(self._path)
        except OSError as exc:
            sock.close()
            raise ManagerUnavailable(f"manager lease socket {self._path} unreachable: {exc}") from exc
        sock.settimeout(None)  # answers take as long as a cold start or a wait for a free sandbox
        self._sock = sock
        self.epoch += 1
        gevent.spawn(self._read, sock)
        return sock

    def _read(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        try:
            for line in stream:
                fields = wire.decode(line)
                if fields[0] == wire.RECALL and len(fields) == 2:
                    self._on_recall(fields[1])
                    continue
                answer = self._waiting.get(fields[1]) if len(fields) > 1 else None
                if answer is not None:
                    answer.set(fields)
                elif fields[0] == wire.GRANT and len(fields) > 2:
                    # Its asker gave up waiting. Not on this greenlet: the return waits for an answer it reads.
                    gevent.spawn(self.release, fields[2], wire.ABANDONED)
        except OSError:
            pass
        finally:
            stream.close()
            self._broken(sock)

    def _broken(self, sock: socket.socket) -> None:
        if self._sock is sock:
            self._sock = None
        _hang_up(sock)
        for answer in list(self._waiting.values()):
            answer.set_exception(ManagerUnavailable(f"the manager closed the lease socket {self._path}"))


def _hang_up(sock: socket.socket) -> None:
    # close() alone leaves the connection open while the reader's file object still refers to it.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
