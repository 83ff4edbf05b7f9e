"""WSGI entry point for gunicorn: `esb_runtime.gateway.wsgi:application`, built on first access."""

from __future__ import annotations

from typing import Any

import falcon

from esb_runtime import secrets as box_secrets, signing_key
from esb_runtime.gateway.access_log import LogSink
from esb_runtime.gateway.app import create_app
from esb_runtime.gateway.config_source import FileConfigSource
from esb_runtime.gateway.manager_client import UdsManagerClient
from esb_runtime.logs.factory import open_store
from esb_runtime.settings import RuntimeSettings

_app: falcon.App | None = None


def open_log_sink(settings: RuntimeSettings) -> LogSink:
    """The log store's writer, one record at a time (LogStore.write takes a list)."""
    store = open_store(settings)
    return lambda record: store.write([record])


def get_app(settings: RuntimeSettings | None = None) -> falcon.App:
    settings = settings or RuntimeSettings.from_env()
    return create_app(
        settings,
        routes_source=FileConfigSource(settings.config_dir),
        manager=UdsManagerClient(settings.manager_socket),
        secrets=box_secrets.load(settings.secrets_file),
        log_sink=open_log_sink(settings),
        signing_key=signing_key.ensure(settings.signing_key_file),
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
