"""The embedded stores process: moto (S3 + DynamoDB) behind SigV4, every write journaled before its answer."""

from __future__ import annotations

import os
import secrets as pysecrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from werkzeug.serving import BaseWSGIServer, make_server

from esb_runtime.secrets import load as load_secrets
from esb_runtime.stores import journal, recovery, restore
from esb_runtime.stores.auth import AuthMiddleware, Credentials, Environ, SigV4Verifier, StartResponse
from esb_runtime.stores.logmirror import LogMirror, Sink
from esb_runtime.stores.recorder import Recorder
from esb_runtime.stores.services import EMULATED, ServiceGate
from esb_runtime.stores.settings import StoresSettings
from esb_runtime.stores.warm import warm



class _RestoreGate:
    """Until the snapshot is restored, only this process's own (restoring) requests reach moto."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token
        self.open = threading.Event()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        internal = environ.get("HTTP_" + restore.INTERNAL_HEADER.upper().replace("-", "_")) == self.token
        if not self.open.is_set() and not internal:
            start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "1")])
            return [b'{"error": "ServiceUnavailable", "message": "restoring data"}']
        return self.app(environ, start_response)


class StoresServer:
    def __init__(self, settings: StoresSettings, credentials: Credentials, log: Callable[[str], None] | None = None,
                 log_sink: Sink | None = None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        self.settings = settings
        self.credentials = credentials
        self.log = log or (lambda text: print(f"stores: {text}", file=sys.stderr, flush=True))
        self._token = pysecrets.token_hex(16)
        self._state = "starting"
        self.recorder = Recorder(DomainDispatcherApplication(create_backend_app), self.log)
        self._gate = _RestoreGate(self.recorder, self._token)
        verifier = SigV4Verifier(credentials) if settings.auth else None
        served: Any = self._gate if log_sink is None else LogMirror(self._gate, log_sink, self.log)
        self.app = AuthMiddleware(ServiceGate(served), verifier, self._health)
        self._server = _listen(settings.host, settings.port, self.app, MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stores-http", daemon=True)
        self._public = _public_listeners(settings, self.app, MotoRequestHandler)
        self._stop = threading.Event()
        self._backlog = 0  # journaled writes in sealed segments no snapshot holds yet
        self._compactor: subprocess.Popen | None = None
        self._compacting_upto = 0

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _health(self, wait_s: float = 0.0) -> dict:
        if wait_s > 0:
            self._gate.open.wait(wait_s)  # answered the moment the data is restored (esb up waits on this)
        return {"status": "ok" if self._state == "ready" else self._state, "services": sorted(EMULATED)}

    def client(self, service: str, region: str) -> Any:
        """A boto3 client of this server that passes the restore gate (the compactor's, which exits after)."""
        return restore.client(self.endpoint, self.credentials, self._token, service, region)

    def _restore_snapshot(self, data_dir: Path) -> dict | None:
        return restore.in_child(data_dir, self.endpoint, self.credentials, self._token)

    def start(self) -> None:
        """Serve, rebuild the data (snapshot + journal), then journal writes; public requests wait (503) till then."""
        self._thread.start()
        for server in self._public:
            threading.Thread(target=server.serve_forever, name="stores-public", daemon=True).start()
        self._state = "restoring"
        started = time.monotonic()
        # Here, while the other parts boot too, rather than on the first provisioning requests once the stores are
        # ready, when nothing else runs (0.1 s sooner on a fresh box, issue 14: start in a second).
        warm(self.recorder)
        with recovery.exclusive(self.settings.data_dir):
            state = recovery.recover(self.settings.data_dir, self._restore_snapshot, self.recorder, self.log,
                                     ledger=self.recorder.ledger)
            self.recorder.journal = journal.Journal(recovery.journal_dir(self.settings.data_dir), state.next_segment)
        self._backlog = state.replay.applied
        if state.manifest or state.segments:
            self.log(
                f"restored {len(state.manifest.get('tables', []))} tables, {len(state.manifest.get('buckets', []))} "
                f"buckets and {state.replay.applied} journaled writes in {time.monotonic() - started:.2f}s"
            )
        self._state = "ready"
        self._gate.open.set()
        self.log(f"listening on {self.endpoint} (auth {'SigV4' if self.settings.auth else 'off'})"
                 + "".join(f", {_url(server)}" for server in self._public))

    def start_private(self) -> None:
        """Serve only this process's own requests (the compactor's scratch copy of the data)."""
        self._thread.start()

    def compaction_due(self) -> bool:
        current = self.recorder.journal
        if current is None:
            return False
        return (self._backlog + current.records_in_segment >= self.settings.compact_records
                or current.bytes_in_segment >= self.settings.compact_bytes)

    def compact_now(self) -> subprocess.Popen | None:
        """Seal the journal segment and let a compactor process fold it into a snapshot, off the request path.

        The compactor rebuilds the state from the last snapshot plus the sealed segments in its own moto,
        so the snapshot is exact (a dump of this live server would race its writes)."""
        current = self.recorder.journal
        if current is None or (self._compactor is not None and self._compactor.poll() is None):
            return None
        with self.recorder.order:  # between two writes, so the sealed segment ends on a record
            self._backlog += current.records_in_segment
            sealed = current.rotate()
        self._compactor = subprocess.Popen(
            [sys.executable, "-m", "esb_runtime.stores.compact", str(sealed), str(os.getpid())]
        )
        self._compacting_upto = sealed
        return self._compactor

    def _reap_compactor(self) -> None:
        if self._compactor is None or self._compactor.poll() is None:
            return
        if self._compactor.returncode == 0:
            self._backlog = 0  # segments are sealed only when no compactor runs, so it held them all
        else:
            self.log(f"compaction up to segment {self._compacting_upto} failed (exit {self._compactor.returncode})")
        self._compactor = None

    def run_until_stopped(self) -> None:
        while not self._stop.wait(self.settings.snapshot_interval_s):
            self._reap_compactor()
            if self.compaction_due():
                self.compact_now()
        if self._compactor is not None and self._compactor.poll() is None:
            self._compactor.terminate()  # the journal holds everything; the next start compacts again
            self._compactor.wait()
        for server in (self._server, *self._public):
            server.shutdown()
            server.server_close()
        if self.recorder.journal is not None:
            self.recorder.journal.close()
        self.log("stopped")

    def stop(self) -> None:
        self._stop.set()


def _listen(host: str, port: int, app: Any, handler: Any, ssl_context: Any = None) -> BaseWSGIServer:
    try:
        return make_server(host, port, app, threaded=True, request_handler=handler, ssl_context=ssl_context)
    except SystemExit as exc:  # werkzeug exits (after printing why) when the port is taken
        raise OSError(f"port {port} is already in use") from exc


def _public_listeners(settings: StoresSettings, app: Any, handler: Any) -> list[BaseWSGIServer]:
    """The fixed endpoint(s) AWS tools on this machine use: HTTPS with the gateway's certificate, optional HTTP."""
    servers = []
    if settings.public_tls_port and settings.tls_dir is not None:
        pair = (str(settings.tls_dir / "server.pem"), str(settings.tls_dir / "server-key.pem"))
        servers.append(_listen(settings.host, settings.public_tls_port, app, handler, ssl_context=pair))
    if settings.public_http_port:
        servers.append(_listen(settings.host, settings.public_http_port, app, handler))
    return servers


def _url(server: BaseWSGIServer) -> str:
    host, port = server.server_address[:2]
    return f"{'https' if server.ssl_context else 'http'}://{host}:{port}"


def serve(settings: StoresSettings, secrets_file: Path, log: Callable[[str], None] | None = None,
          log_sink: Sink | None = None) -> StoresServer:
    box = load_secrets(secrets_file)
    return StoresServer(settings, Credentials(box.aws_access_key_id, box.aws_secret_access_key), log, log_sink)
