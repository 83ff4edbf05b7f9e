"""WSGI entry point for gunicorn: `esb_runtime.gateway.wsgi:application`, built on first access."""

from __future__ import annotations

import atexit
from typing import Any

from esb_runtime import secrets as box_secrets, signing_key
from esb_runtime.gateway.access_log import LogSink
from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.dispatch import WsgiApp
from esb_runtime.gateway.config_source import FileConfigSource
from esb_runtime.gateway.direct_invoke import DirectInvoker
from esb_runtime.gateway.leases import LeaseClient
from esb_runtime.gateway.manager_client import UdsManagerClient
from esb_runtime.logs.factory import open_store
from esb_runtime.manager.logpump import RecordShipper
from esb_runtime.settings import RuntimeSettings

_app: WsgiApp | None = None


def open_log_sink(settings: RuntimeSettings) -> LogSink:
    """The access records, batched to the log store off the request path (a write per request was a syscall,
    or an HTTP POST to VictoriaLogs, on every request); flushed when the worker exits."""
    shipper = RecordShipper(open_store(settings).write)
    atexit.register(shipper.close)
    return shipper.emit


def get_app(settings: RuntimeSettings | None = None) -> WsgiApp:
    settings = settings or RuntimeSettings.from_env()
    manager = UdsManagerClient(settings.manager_socket)
    invoker = DirectInvoker(manager, LeaseClient(settings.lease_socket))
    # Kept leases go back as idle ones: a lease the closing connection still held would be recycled.
    atexit.register(invoker.close)
    return create_app(
        settings,
        routes_source=FileConfigSource(settings.config_dir),
        manager=manager,
        invoker=invoker,
        secrets=box_secrets.load(settings.secrets_file),
        log_sink=open_log_sink(settings),
        signing_key=signing_key.StoredKey(settings.signing_key_file),
    )


def __getattr__(name: str) -> Any:
    # Built lazily so importing this module (tests, tooling) reads no environment; gunicorn's
    # lookup of `application` happens in the worker, which is the process edge.
    global _app
    if name == "application":
        if _app is None:
            _app = get_app()
        return _app
    raise AttributeError(name)
