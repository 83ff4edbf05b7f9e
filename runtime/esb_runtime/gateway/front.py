"""The gateway's HTTP/1.1 server loop: requests of one accepted connection in, the WSGI app's answers out.

It replaces gunicorn's request handling inside the gateway's gevent worker (worker.py keeps admission, TLS and
gunicorn's process model): gunicorn's parsing, its keep-alive loop and its two writes per response were half of
the gateway's time per request (issue 14). Per request: one environ, built while llhttp parses; one write.
Timeouts as before: the request head (and the idle wait before it) has `header_timeout_s`, after which the
connection is cut silently; every other read or write that makes no progress ends at the socket's I/O timeout.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import sys
from typing import Any, Callable

import gevent
from gevent.greenlet import Greenlet

from esb_runtime.errors import MalformedRequest
from esb_runtime.http1.limits import ConnectionLimits
from esb_runtime.http1.reader import Message, RequestReader
from esb_runtime.http1.writer import StartResponse, error_response
from esb_runtime.sockets import send_all

WsgiApp = Callable[[dict[str, Any], StartResponse], Any]
Report = Callable[[str, str], None]  # (source address, what happened): rate-limited by the caller

log = logging.getLogger(__name__)


class Front:
    """Serves each accepted connection with one WSGI app; `drain` is the graceful stop."""

    def __init__(self, app: WsgiApp, limits: ConnectionLimits, *, report: Report,
                 errors: logging.Logger = log, environ: dict[str, Any] | None = None) -> None:
        self._app, self._limits, self._report, self._errors = app, limits, report, errors
        self._environ = {
            "wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.input_terminated": True,
            "SCRIPT_NAME": "", "SERVER_SOFTWARE": "esb-gateway", **(environ or {}),
        }
        self.draining = False
        self._waiting: dict[Any, RequestReader] = {}  # greenlet -> its connection, while it waits for a request

    def serve(self, sock: Any, addr: Any) -> None:
        """Answer the requests on `sock` until the client is done, a limit or an error ends it, or a drain."""
        remote = addr if isinstance(addr, tuple) else (str(addr), 0)
        local = sock.getsockname()
        base = {**self._environ, "wsgi.url_scheme": "https" if isinstance(sock, ssl.SSLSocket) else "http",
                "REMOTE_ADDR": remote[0], "REMOTE_PORT": str(remote[1]),
                "SERVER_NAME": local[0] if isinstance(local, tuple) else str(local),
                "SERVER_PORT": str(local[1]) if isinstance(local, tuple) else ""}
        reader = RequestReader(sock, base, self._limits)
        deadline = gevent.Timeout(self._limits.header_timeout_s)  # one timer for the connection, restarted
        try:
            while (message := self._next(reader, deadline)) is not None and self._answer(sock, reader, message):
                pass
        except MalformedRequest as exc:  # a head the parser or a limit refused; the connection ends
            self._report(remote[0], f"bad request ({exc.status}: {exc.message})")
            with contextlib.suppress(OSError):
                sock.sendall(error_response(exc.status))
        except OSError:  # the client went away (ssl.SSLError is an OSError too), or an I/O timeout passed
            pass
        finally:
            deadline.close()

    def drain(self) -> None:
        """Keep no connection any more: those waiting for a next request end now, busy ones after their answer.
        Graceful shutdown (SIGTERM): the worker waits for the busy ones (graceful_timeout), not for idle clients."""
        self.draining = True
        loop = gevent.get_hub().loop
        for greenlet, reader in list(self._waiting.items()):
            loop.run_callback(self._end_idle, greenlet, reader)

    def _end_idle(self, greenlet: Greenlet, reader: RequestReader) -> None:
        # Run by the hub: a greenlet still in _waiting with nothing received is blocked in its read, so ending it
        # there cannot cut a request short.
        if self._waiting.get(greenlet) is reader and reader.idle:
            greenlet.throw(gevent.GreenletExit)

    def _next(self, reader: RequestReader, deadline: gevent.Timeout) -> Message | None:
        if self.draining and reader.idle:
            return None
        me = gevent.getcurrent()
        self._waiting[me] = reader
        deadline.start()
        try:
            return reader.next_request()
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            return None  # a slow or idle client: cut, as gunicorn's keep-alive deadline did
        finally:
            deadline.cancel()
            del self._waiting[me]

    def _answer(self, sock: Any, reader: RequestReader, message: Message) -> bool:
        """Run the app and send its answer in one write; whether the connection serves another request."""
        env = message.env
        env["wsgi.input"] = reader.body_input(message)
        response = StartResponse()
        try:
            body = response.body(self._app(env, response))
            keep = message.keep_alive and not self.draining and reader.can_continue(message)
            data = response.encode(body, version=env["SERVER_PROTOCOL"], method=env["REQUEST_METHOD"],
                                   close=not keep)
        except OSError:
            raise
        except Exception:  # noqa: BLE001 - the app's or its response's fault: a 500 and a traceback, never a hang
            self._errors.exception("error answering %s %s", env.get("REQUEST_METHOD"), env.get("RAW_URI"))
            sock.sendall(error_response(500))
            return False
        send_all(sock, data)
        if keep:
            return reader.discard(message, self._limits.discard_bytes)
        with gevent.Timeout(self._limits.linger_s, False):  # a lingering close, bounded
            reader.discard(message, self._limits.linger_bytes)
        return False
