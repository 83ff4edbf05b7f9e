"""The gateway's gunicorn worker: gevent, with TLS, connection caps, timeouts and HTTP/1.1 under our control.

gunicorn's gevent worker lets gevent's server run the handshake with no deadline, and prints a traceback for
each failed one. Here the server only wraps the socket (tls_context() turns off handshake-on-connect), and
`handle` runs the handshake under a deadline, refuses sources over their cap and logs failures one line per
source. Requests are then served by front.py (llhttp parsing, one write per response) instead of gunicorn's
parser and keep-alive loop; gunicorn keeps the process model: settings, listeners, signals, the connection pool
(worker_connections) and, with several workers, its master.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import gevent
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from esb_runtime import green
from esb_runtime.gateway.connections import NoiseLog, SourceGate
from esb_runtime.http1.limits import ConnectionLimits
from esb_runtime.gateway.front import Front

LIMITS = ConnectionLimits()
# TLS 1.2 suites: ECDHE with AEAD only (no CBC, no RSA key exchange); TLS 1.3 suites are all AEAD.
TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """TLS 1.2+ with AEAD suites only, session tickets for resumption, and the handshake left to the worker."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    # One TLS 1.3 ticket instead of OpenSSL's two: resumption for clients that use it, half the post-handshake
    # work for those that do not (most SDKs open a fresh session per connection pool).
    context.num_tickets = 1
    # gevent's server calls wrap_socket(sock, server_side=True); the worker runs the handshake itself, with a
    # deadline, so a stalled or junk client costs one greenlet for at most handshake_timeout_s and no traceback.
    context.wrap_socket = functools.partial(context.wrap_socket, do_handshake_on_connect=False)  # type: ignore[method-assign]
    return context


def tls_context(config: Any, default_factory: Any) -> ssl.SSLContext:
    """gunicorn's `ssl_context` hook."""
    return harden(default_factory())


class GatewayWorker(GeventWorker):
    limits = LIMITS

    def patch(self) -> None:
        green.patch_all()  # without gevent's plugin scan (esb_runtime.green); gunicorn's patch_all is then a no-op
        super().patch()

    def init_process(self) -> None:
        self._gate = SourceGate(self.limits.per_source)
        self._noise = NoiseLog(self.log.warning, self.limits.noise_interval_s)
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self._front = Front(self.wsgi, self.limits, report=self._noise.report, errors=self.log,
                            environ={"wsgi.multiprocess": self.cfg.workers > 1})

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)  # stops accepting; gunicorn waits graceful_timeout for busy connections
        gevent.spawn(self._front.drain)  # out of the signal handler, as gunicorn's gevent worker does for SIGQUIT

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        source = addr[0] if isinstance(addr, tuple) else str(addr)
        if not self._gate.enter(source):
            self._noise.report(source, f"refused: over {self.limits.per_source} open connections")
            util.close(client)
            return
        try:
            if isinstance(client, ssl.SSLSocket):
                if not self._handshake(client, source):
                    return
            else:
                client.settimeout(self.limits.io_timeout_s)
            self._front.serve(client, addr)
        finally:
            self._gate.leave(source)
            util.close(client)

    def _handshake(self, client: ssl.SSLSocket, source: str) -> bool:
        try:
            with gevent.Timeout(self.limits.handshake_timeout_s):
                client.do_handshake()
        except gevent.Timeout:
            self._noise.report(source, f"TLS handshake not done in {self.limits.handshake_timeout_s:g} s")
        except (ssl.SSLError, OSError) as exc:
            self._noise.report(source, f"TLS handshake failed ({_reason(exc)})")
        else:
            # A socket timeout from here on bounds every read and write that makes no progress (slow bodies).
            client.settimeout(self.limits.io_timeout_s)
            return True
        return False  # handle() closes the socket


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or type(exc).__name__)
