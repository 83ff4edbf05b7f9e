"""Serving the manager API on its unix socket (mode 0600: only the box's own user may lease sandboxes).

Each connection's requests are read and answered by esb_runtime.http1 (llhttp; the gateway's front uses it too), on
a gevent StreamServer, rather than by gevent's pywsgi: pywsgi imports http.client, so the email parser and ssl,
~4.7 MB of the manager's idle RSS (issue 14) for a socket that never speaks TLS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any, Callable

from esb_runtime.errors import MalformedRequest
from esb_runtime.http1.limits import ConnectionLimits
from esb_runtime.http1.reader import Message, RequestReader
from esb_runtime.http1.writer import StartResponse, error_response
from esb_runtime.sockets import send_all

log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], StartResponse], Any]
_ENVIRON = {"wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.input_terminated": True,
            "wsgi.url_scheme": "http", "SCRIPT_NAME": "", "SERVER_NAME": "esb-manager", "SERVER_PORT": "",
            "REMOTE_ADDR": "", "SERVER_SOFTWARE": "esb-manager"}


def unix_listener(path: Path, backlog: int = 256) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_socket():
        path.unlink()  # left by a manager that was killed; a live one would hold the box's state lock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # no window in which the socket is reachable by others
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(backlog)
    return sock


def serve_connection(app: WsgiApp, sock: Any, limits: ConnectionLimits = ConnectionLimits()) -> None:
    """Answer the requests of one connection until the client is done, breaks HTTP/1.1 or goes away. No idle
    deadline (as under pywsgi): the clients are the box's own processes, which keep connections alive."""
    reader = RequestReader(sock, _ENVIRON, limits)
    try:
        while (message := reader.next_request()) is not None and _answer(app, sock, reader, message, limits):
            pass
    except MalformedRequest as exc:
        with contextlib.suppress(OSError):
            sock.sendall(error_response(exc.status))
    except OSError:  # the client went away
        pass
    except Exception:  # noqa: BLE001 - an answer that cannot be written (the app's fault): a 500, then close
        log.exception("manager API: cannot answer")
        with contextlib.suppress(OSError):
            sock.sendall(error_response(500))


def _answer(app: WsgiApp, sock: Any, reader: RequestReader, message: Message, limits: ConnectionLimits) -> bool:
    """Run the app (Routes answers its own errors) and send its answer in one write; whether the connection goes on."""
    env = message.env
    env["wsgi.input"] = reader.body_input(message)
    response = StartResponse()
    body = response.body(app(env, response))
    keep = message.keep_alive and reader.can_continue(message)
    send_all(sock, response.encode(body, version=env["SERVER_PROTOCOL"], method=env["REQUEST_METHOD"],
                                   close=not keep))
    return keep and reader.discard(message, limits.discard_bytes)


def make_server(app: WsgiApp, path: Path) -> Any:
    """A gevent server of the app on the unix socket (the process must be monkey-patched already)."""
    from gevent.server import StreamServer

    listener = unix_listener(path)
    listener.setblocking(False)  # gevent accepts until one would block: a blocking listener would stall the hub
    return StreamServer(listener, lambda sock, _addr: serve_connection(app, sock))
