"""Durable SQS queue contents: moto's queues report every message added, deleted or received to the journal.

Why the queues' state and not the requests: messages reach a queue from SendMessage, but also from SNS
Publish, EventBridge PutEvents, S3 notifications and the redrive to a dead-letter queue. Replaying those
requests would deliver twice (a replayed S3 PUT notifies again) and give messages new ids, so a journaled
delete (made with a receipt handle) could not find its message. So moto's queue is hooked instead: a
message added is journaled whole (id, body, attributes, group and deduplication ids, receive count), a
deleted or purged one by id, a receive as a count increment. A request that added or removed messages is
answered only once those records are on disk (the recorder's group commit): an acknowledged
SendMessage(Batch), Publish or PutEvents survives kill -9, and so does an acknowledged delete.

At-least-once: visibility timeouts are not kept, so after a restart every message not deleted is visible
again (a message received but not deleted before the crash is delivered again), with its receive count, so
redrive to the DLQ after maxReceiveCount still holds. Receives are appended without waiting for the disk:
losing one only gives that message one more delivery. Growth is bounded by compaction: a snapshot carries
the queues as they are (one record per message still queued), not their history.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any, Callable

from esb_runtime.stores.journal import Journal

_MAGIC = b"\xffSQS"  # read as a mutation's meta length it exceeds any record, so the two never mix up
_FIELDS = ("deduplication_id", "group_id", "sequence_number", "sent_timestamp",
           "approximate_first_receive_timestamp", "approximate_receive_count", "delayed_until")


def is_queue_record(payload: bytes) -> bool:
    return payload.startswith(_MAGIC)


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot journal {type(value).__name__}")


def _revive(obj: dict) -> Any:
    return base64.b64decode(obj["$b"]) if set(obj) == {"$b"} else obj


def _encode(record: dict) -> bytes:
    return _MAGIC + json.dumps(record, default=_plain, separators=(",", ":")).encode("utf-8")


def _decode(payload: bytes) -> dict:
    return json.loads(payload[len(_MAGIC):], object_hook=_revive)


def _added(queue: Any, message: Any) -> dict:
    record = {"k": "add", "a": queue.account_id, "r": queue.region, "q": queue.name, "i": message.id,
              "b": message.body, "ma": message.message_attributes, "sa": message.system_attributes}
    record.update({name: getattr(message, name) for name in _FIELDS})
    return record


def _backends() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends


class QueueLedger:
    """Turns moto queue changes into journal records, and journal records back into moto queue contents.

    While no journal is attached (recovery, the compactor) the queues hold only what records restore:
    a message a replayed request adds as a side effect (an S3 notification, ...) was journaled by itself
    when it first happened, so it is dropped."""

    def __init__(self, backends: Callable[[], Any] = _backends) -> None:
        self.journal: Journal | None = None
        self.failed: OSError | None = None
        self._backends = backends
        self._lock = threading.RLock()  # a queue change and its record are appended in the same order
        self._local = threading.local()
        self._where: dict[str, Any] = {}  # message id -> the queue a restored message is in

    # -- live: moto's hooks call these ------------------------------------------------------------
    def begin(self) -> None:
        self._local.seq = 0

    def must_wait(self) -> int:
        """The last record this thread's request appended that its answer must wait for (0: none)."""
        return getattr(self._local, "seq", 0)

    def _append(self, record: dict, wait: bool) -> None:
        journal = self.journal
        if journal is None:
            return
        try:
            seq = journal.append(_encode(record))
        except OSError as exc:
            self.failed = exc
            return
        if wait:
            self._local.seq = seq

    def on_add(self, queue: Any, message: Any, add: Callable[[Any, Any], None]) -> None:
        if self.journal is None:
            return
        with self._lock:
            add(queue, message)
            if any(m is message for m in queue._messages):  # FIFO deduplication may have dropped it
                self._append(_added(queue, message), wait=True)

    def on_remove(self, queue: Any, remove: Callable[[], None]) -> None:
        with self._lock:
            before = {m.id for m in queue._messages}
            remove()
            gone = before - {m.id for m in queue._messages}
            if gone:
                self._append({"k": "del", "i": sorted(gone)}, wait=True)

    def on_receive(self, message: Any) -> None:
        with self._lock:
            self._append({"k": "rcv", "i": message.id}, wait=False)

    # -- recovery -----------------------------------------------------------------------------------
    def apply(self, payload: bytes) -> None:
        """Restore one record into moto's queues (a record of a queue that no longer exists is skipped)."""
        record = _decode(payload)
        if record["k"] == "add":
            self._restore(record)
        elif record["k"] == "del":
            for message_id in record["i"]:
                self._take_out(message_id)
        elif record["i"] in self._where:
            for message in self._where[record["i"]]._messages:
                if message.id == record["i"]:
                    message.approximate_receive_count += 1

    def _take_out(self, message_id: str) -> None:
        queue = self._where.pop(message_id, None)
        if queue is not None:
            with queue._messages_lock:
                queue._messages = [m for m in queue._messages if m.id != message_id]

    def _restore(self, record: dict) -> None:
        from moto.sqs.models import Message

        try:
            queue = self._backends()[record["a"]][record["r"]].queues.get(record["q"])
        except KeyError:
            queue = None
        self._take_out(record["i"])  # a move to the dead-letter queue is an add elsewhere
        if queue is None:
            return
        message = Message(record["i"], record["b"], record["sa"] or {})
        message.message_attributes = record["ma"] or {}
        for name in _FIELDS:
            setattr(message, name, record[name])
        with queue._messages_lock:
            queue._messages.append(message)  # visible at once: what was in flight is delivered again
            queue._messages_lock.notify_all()
        self._where[record["i"]] = queue

    def carried(self) -> list[bytes]:
        """Every message queued now, as records: what a snapshot carries instead of the queues' history."""
        records = []
        for account in list(self._backends().values()):
            for backend in list(account.values()):
                for queue in list(backend.queues.values()):
                    records += [_encode(_added(queue, m)) for m in list(queue._messages)]
        return records


_ledger: QueueLedger | None = None


def install(ledger: QueueLedger) -> None:
    """Route moto's queue changes in this process to `ledger` (moto's queues are per process too)."""
    global _ledger
    from moto.sqs.models import Message, Queue, SQSBackend

    first = _ledger is None
    _ledger = ledger
    if not first:
        return
    add, delete, purge, received = Queue.add_message, Queue.delete_message, SQSBackend.purge_queue, \
        Message.mark_received

    def add_message(queue: Queue, message: Message) -> None:
        assert _ledger is not None
        _ledger.on_add(queue, message, add)

    def delete_message(queue: Queue, receipt_handle: str) -> None:
        assert _ledger is not None
        _ledger.on_remove(queue, lambda: delete(queue, receipt_handle))

    def purge_queue(backend: SQSBackend, queue_name: str) -> None:
        assert _ledger is not None
        _ledger.on_remove(backend.get_queue(queue_name), lambda: purge(backend, queue_name))

    def mark_received(message: Message, visibility_timeout: int | None = None) -> None:
        received(message, visibility_timeout)
        assert _ledger is not None
        _ledger.on_receive(message)

    Queue.add_message, Queue.delete_message = add_message, delete_message  # type: ignore[method-assign]
    SQSBackend.purge_queue, Message.mark_received = purge_queue, mark_received  # type: ignore[method-assign]
