"""gunicorn settings for the gateway: gevent workers, TLS from the box's CA, bind from RuntimeSettings."""

from __future__ import annotations

from esb_runtime.gateway.worker import LIMITS, tls_context
from esb_runtime.settings import RuntimeSettings
from esb_runtime.tls_apart import ensure_tls_apart

# gunicorn executes this module in the master process: the process edge, where reading the
# environment once is expected.
_settings = RuntimeSettings.from_env()

wsgi_app = "esb_runtime.gateway.wsgi:application"
bind = [f"{_settings.gateway_host}:{_settings.gateway_port}"]
workers = _settings.gateway_workers
# gevent, with the TLS handshake, per-source caps, timeouts and HTTP/1.1 itself handled by the worker (worker.py,
# front.py): the request-head deadline, keep-alive and the head's size limits are in LIMITS, not gunicorn's settings.
worker_class = "esb_runtime.gateway.worker.GatewayWorker"
worker_connections = LIMITS.total
timeout = 60  # gevent workers heartbeat from their hub, so this bounds a wedged worker, not a request
graceful_timeout = 10  # in-flight requests get this long on SIGTERM; SIGQUIT stops at once
accesslog = None  # the app writes one structured record per request itself
errorlog = "-"
loglevel = "info"
proc_name = "esb-gateway"
# gunicorn >= 25 opens a control socket under ~/.gunicorn by default: one path shared by every box
# of this user, and an extra way in that the gateway does not need.
control_socket_disable = True

if _settings.tls:
    # Checked in a child process: the gateway itself never loads cryptography (issue 14).
    _cert, _key = ensure_tls_apart(_settings.tls_dir, [_settings.gateway_host])
    certfile = str(_cert)
    keyfile = str(_key)
    ssl_context = tls_context  # AEAD-only suites, one resumption ticket, handshake run by the worker
