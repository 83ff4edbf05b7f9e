"""WSGI entry point for gunicorn: `esb_runtime.gateway.wsgi:application`, built on first access."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import falcon

from esb_runtime import secrets as box_secrets
from esb_runtime.gateway.access_log import LogSink, null_sink
from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import FileConfigSource
from esb_runtime.gateway.manager_client import UdsManagerClient
from esb_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)
_app: falcon.App | None = None


def open_log_sink(settings: RuntimeSettings) -> LogSink:
    """The log store's writer (LogStore.write takes a list) when the logs package is there, else a null sink."""
    try:
        stores = importlib.import_module("esb_runtime.logs.stores")
        store = stores.open_store(settings)
    except (ImportError, AttributeError) as exc:
        log.warning("gateway log records disabled: %s", exc)
        return null_sink
    return lambda record: store.write([record])


def get_app(settings: RuntimeSettings | None = None) -> falcon.App:
    settings = settings or RuntimeSettings.from_env()
    return create_app(
        settings,
        routes_source=FileConfigSource(settings.config_dir),
        manager=UdsManagerClient(settings.manager_socket),
        secrets=box_secrets.load(settings.secrets_file),
        log_sink=open_log_sink(settings),
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
