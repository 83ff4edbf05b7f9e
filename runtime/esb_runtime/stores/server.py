"""The embedded stores process: moto (S3 + DynamoDB) behind SigV4, restored on start, snapshotted often."""

from __future__ import annotations

import secrets as pysecrets
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, make_server

from esb_runtime.secrets import load as load_secrets
from esb_runtime.stores import snapshot
from esb_runtime.stores.auth import AuthMiddleware, Credentials, Environ, SigV4Verifier, StartResponse
from esb_runtime.stores.settings import StoresSettings

_INTERNAL_HEADER = "X-Esb-Internal"


class _RestoreGate:
    """Until the snapshot is restored, only this process's own (restoring) requests reach moto."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token
        self.open = threading.Event()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        internal = environ.get("HTTP_" + _INTERNAL_HEADER.upper().replace("-", "_")) == self.token
        if not self.open.is_set() and not internal:
            start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "1")])
            return [b'{"error": "ServiceUnavailable", "message": "restoring data"}']
        return self.app(environ, start_response)


class StoresServer:
    def __init__(self, settings: StoresSettings, credentials: Credentials, log: Callable[[str], None] | None = None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        self.settings = settings
        self.credentials = credentials
        self.log = log or (lambda text: print(f"stores: {text}", file=sys.stderr, flush=True))
        self._token = pysecrets.token_hex(16)
        self._state = "starting"
        self._gate = _RestoreGate(DomainDispatcherApplication(create_backend_app), self._token)
        verifier = SigV4Verifier(credentials) if settings.auth else None
        self.app = AuthMiddleware(self._gate, verifier, self._health)
        try:
            self._server: BaseWSGIServer = make_server(
                settings.host, settings.port, self.app, threaded=True, request_handler=MotoRequestHandler
            )
        except SystemExit as exc:  # werkzeug exits (after printing why) when the port is taken
            raise OSError(f"port {settings.port} is already in use") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, name="stores-http", daemon=True)
        self._stop = threading.Event()
        self._regions: set[str] = {"us-east-1"}
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _health(self) -> dict:
        return {"status": "ok" if self._state == "ready" else self._state, "services": ["s3", "dynamodb"]}

    def client(self, service: str, region: str) -> Any:
        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
            config=Config(retries={"max_attempts": 3}, max_pool_connections=16),
        )

        def mark(request: Any, **_: Any) -> None:
            request.headers[_INTERNAL_HEADER] = self._token

        client.meta.events.register("before-sign", mark)
        return client

    def start(self) -> None:
        """Serve, then restore the last snapshot; public requests wait (503) until it is in."""
        self._thread.start()
        self._state = "restoring"
        started = time.monotonic()
        manifest = snapshot.restore(self.settings.data_dir, self.client)
        if manifest:
            self._regions |= {entry["region"] for entry in manifest["tables"]}
            self.log(
                f"restored {len(manifest['tables'])} tables, {len(manifest['buckets'])} buckets "
                f"in {time.monotonic() - started:.2f}s"
            )
        self.app.dirty.clear()
        self._state = "ready"
        self._gate.open.set()
        self.log(f"listening on {self.endpoint} (auth {'SigV4' if self.settings.auth else 'off'})")

    def snapshot_now(self, force: bool = False) -> bool:
        """Take a snapshot if anything was written since the last one (or always, with force)."""
        with self._lock:
            if not force and not self.app.dirty.is_set():
                return False
            # Clear first: a write racing the dump marks it dirty again, so it is caught next time.
            self.app.dirty.clear()
            self._regions |= self.app.regions
            started = time.monotonic()
            try:
                snapshot.take(self.settings.data_dir, self.client, self._regions)
            except Exception as exc:  # a failed snapshot must not kill the store; retry next tick
                self.app.dirty.set()
                self.log(f"snapshot failed: {exc}")
                return False
            self.log(f"snapshot in {time.monotonic() - started:.2f}s")
            return True

    def run_until_stopped(self) -> None:
        while not self._stop.wait(self.settings.snapshot_interval_s):
            self.snapshot_now()
        self.snapshot_now()
        self._server.shutdown()
        self._server.server_close()
        self.log("stopped")

    def stop(self) -> None:
        self._stop.set()


def serve(settings: StoresSettings, secrets_file: Path) -> StoresServer:
    box = load_secrets(secrets_file)
    return StoresServer(settings, Credentials(box.aws_access_key_id, box.aws_secret_access_key))
