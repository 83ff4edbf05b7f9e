"""Journals every acknowledged write (S3, DynamoDB, kept configuration and traffic, queue contents) before its
answer leaves, and replays the journal into moto."""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from esb_runtime.stores import subscriptions
from esb_runtime.stores.auth import Environ, StartResponse, WsgiApp
from esb_runtime.stores.journal import Journal
from esb_runtime.stores.kept import KEPT_WRITES, Carried
from esb_runtime.stores.mutations import Mutation, journaled_service
from esb_runtime.stores.queued import QueueLedger, install, is_queue_record

_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")
_MAPPED_PARAMS = ("uploadId", "versionId")


@dataclass
class Answer:
    status: int
    status_line: str
    headers: list[tuple[str, str]]
    body: list[bytes]


def call(app: WsgiApp, environ: Environ) -> Answer:
    """Run a WSGI request to completion and keep its answer (moto's answers are in memory anyway)."""
    got: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable:
        got["status"], got["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return Answer(int(got["status"].split()[0]), got["status"], list(got["headers"]), chunks)


def generated_ids(mutation: Mutation, answer: Answer) -> dict[str, str]:
    """Ids moto made up for this write; replay gets other ones, so later records are rewritten to them."""
    ids = {}
    for name, value in answer.headers:
        if name.lower() == "x-amz-version-id" and value != "null":
            ids["versionId"] = value
    if mutation.method == "POST" and "uploads" in mutation.query.split("&"):
        found = _UPLOAD_ID.search(b"".join(answer.body))
        if found:
            ids["uploadId"] = found.group(1).decode()
    if mutation.service() == "sns":
        arn = subscriptions.answered_arn(b"".join(answer.body))
        if arn:
            ids[subscriptions.KEY] = arn
    return ids


def _json(start_response: StartResponse, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Recorder:
    """WSGI middleware in front of moto. Writes run one at a time so the journal order is moto's order;
    the fsync happens outside that lock, shared by every writer waiting for it (group commit)."""

    def __init__(self, app: WsgiApp, log: Callable[[str], None], ledger: QueueLedger | None = None) -> None:
        self.app = app
        self.log = log
        self.ledger = ledger or QueueLedger()
        install(self.ledger)
        self._journal: Journal | None = None
        self.order = threading.Lock()
        self.failed: str | None = None

    @property
    def journal(self) -> Journal | None:
        return self._journal

    @journal.setter
    def journal(self, journal: Journal | None) -> None:
        """Attached once recovery is done; until then nothing is recorded."""
        self._journal = self.ledger.journal = journal

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        journal = self.journal
        if journal is None:
            return self.app(environ, start_response)
        self.ledger.begin()
        if journaled_service(environ) is None:
            return self._queue_changes(environ, start_response, journal)
        if self.failed:  # a write moto applied but the disk refused: stop acknowledging writes
            return _json(start_response, "503 Service Unavailable", {"error": "ServiceUnavailable",
                                                                       "message": f"journal failed: {self.failed}"})
        body = environ["wsgi.input"].read()  # the auth middleware buffered it
        environ["wsgi.input"] = io.BytesIO(body)
        mutation = Mutation.from_environ(environ, body)
        seq = 0
        with self.order:
            answer = call(self.app, environ)
            if 200 <= answer.status < 300:
                mutation.ids = generated_ids(mutation, answer)
                try:
                    seq = journal.append(mutation.encode())
                except OSError as exc:
                    return self._fail(start_response, exc)
        if seq:
            try:
                journal.wait_durable(max(seq, self.ledger.must_wait()))
            except OSError as exc:
                return self._fail(start_response, exc)
        start_response(answer.status_line, answer.headers)
        return answer.body

    def _queue_changes(self, environ: Environ, start_response: StartResponse, journal: Journal) -> Iterable[bytes]:
        """Any other request (SendMessage, Publish, PutEvents, a receive that redrives, DeleteMessage) may
        change queue contents; its answer waits until the records of those changes are on disk."""
        answer = call(self.app, environ)
        seq = self.ledger.must_wait()
        if seq:
            try:
                if self.ledger.failed:
                    raise self.ledger.failed
                journal.wait_durable(seq)
            except OSError as exc:
                return self._fail(start_response, exc)
        start_response(answer.status_line, answer.headers)
        return answer.body

    def _fail(self, start_response: StartResponse, exc: OSError) -> list[bytes]:
        self.failed = str(exc)
        self.log(f"journal write failed, refusing further writes: {exc}")
        return _json(start_response, "503 Service Unavailable", {"error": "ServiceUnavailable",
                                                                   "message": "journal write failed"})


def _map_ids(query: str, ids: dict[str, str]) -> str:
    parts = []
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if key in _MAPPED_PARAMS and value in ids:
            value = ids[value]
        parts.append(key + sep + value)
    return "&".join(parts)


@dataclass
class Replay:
    """Applies journal records to a fresh moto, in order; keeps what a snapshot cannot hold."""

    app: WsgiApp
    log: Callable[[str], None]
    ledger: QueueLedger = field(default_factory=QueueLedger)
    ids: dict[str, str] = field(default_factory=dict)  # id in the journal -> id moto gave on replay
    regions: set[str] = field(default_factory=set)
    # Multipart uploads still open, by their journal id: snapshots hold objects, not uploads, so these
    # records are carried into the next snapshot and replayed after it.
    open_uploads: dict[str, list[bytes]] = field(default_factory=dict)
    # Configuration writes of the services snapshots do not dump (kept.py), in their order.
    kept: list[bytes] = field(default_factory=list)
    carried: Carried = field(default_factory=Carried)  # Kinesis records and log events, while retained
    applied: int = 0

    def apply(self, payloads: Iterable[bytes]) -> None:
        for payload in payloads:
            if is_queue_record(payload):
                self.ledger.apply(payload)
                self.applied += 1
                continue
            mutation = Mutation.decode(payload)
            answer = call(self.app, mutation.environ(_map_ids(mutation.query, self.ids)))
            self.applied += 1
            if not 200 <= answer.status < 300:
                self.log(f"replay: {mutation.method} {mutation.path} answered {answer.status}, skipped")
                continue
            fresh = generated_ids(mutation, answer)
            for name, old in mutation.ids.items():
                if name == subscriptions.KEY and name in fresh:
                    subscriptions.keep_arn(old, fresh[name])
                elif name in fresh:
                    self.ids[old] = fresh[name]
            region = mutation.region()
            if region:
                self.regions.add(region)
            if not self.carried.add(mutation, payload) and mutation.service() in KEPT_WRITES:
                self.kept.append(payload)
            self._track_upload(mutation, payload)

    def _track_upload(self, mutation: Mutation, payload: bytes) -> None:
        if "uploadId" in mutation.ids:
            self.open_uploads[mutation.ids["uploadId"]] = [payload]
            return
        params = dict(p.partition("=")[::2] for p in mutation.query.split("&") if p)
        upload = params.get("uploadId")
        if upload is None or upload not in self.open_uploads:
            return
        if mutation.method == "PUT":  # UploadPart / UploadPartCopy
            self.open_uploads[upload].append(payload)
        else:  # CompleteMultipartUpload (POST) or AbortMultipartUpload (DELETE)
            del self.open_uploads[upload]

    def pending(self) -> list[bytes]:
        """What the next snapshot carries as records: kept configuration writes, open uploads, retained
        traffic, then the messages queued now."""
        uploads = (payload for records in self.open_uploads.values() for payload in records)
        return [*self.kept, *uploads, *self.carried.retained(), *self.ledger.carried()]
