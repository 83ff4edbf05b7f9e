"""Serving the manager API on its unix socket (mode 0600: only the box's own user may lease sandboxes)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


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


def make_server(app: Any, path: Path) -> Any:
    """A gevent WSGI server on the unix socket (the process must be monkey-patched already)."""
    from gevent.pywsgi import WSGIServer

    return WSGIServer(unix_listener(path), app, log=None, error_log=None)
