"""Unit tests of the stores' write-ahead journal: framing, group commit, replay, recovery over a snapshot."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

from esb_runtime.stores import journal, snapshot
from esb_runtime.stores.mutations import Mutation, journaled_service
from esb_runtime.stores.recorder import Recorder, Replay
from esb_runtime.stores.recovery import journal_dir, recover
from esb_runtime.stores.queued import QueueLedger


def _write(folder: Path, number: int, payloads: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = journal.segment_path(folder, number)
    journal.write_records(path, payloads)
    return path


def test_records_read_back_in_order_and_a_torn_tail_is_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, 1, [b"one", b"two", b"three" * 100])
    assert list(journal.read_segment(path)) == [b"one", b"two", b"three" * 100]
    path.write_bytes(path.read_bytes()[:-7])  # a crash in the middle of the last record
    assert list(journal.read_segment(path)) == [b"one", b"two"]


def test_a_corrupt_record_ends_the_segment(tmp_path: Path) -> None:
    path = _write(tmp_path, 1, [b"good", b"flipped", b"after"])
    data = bytearray(path.read_bytes())
    data[data.index(b"flipped")] ^= 0xFF
    path.write_bytes(bytes(data))
    assert list(journal.read_segment(path)) == [b"good"]


def test_concurrent_writers_share_one_fsync(tmp_path: Path) -> None:
    release = threading.Event()
    synced: list[int] = []

    def sync(fd: int) -> None:
        if not synced:
            release.wait(5)  # the first group commit is slow; the others queue meanwhile
        synced.append(fd)

    log = journal.Journal(tmp_path, 1, sync=sync)
    done: list[int] = []

    def writer(payload: bytes) -> None:
        log.wait_durable(log.append(payload))
        done.append(1)

    first = threading.Thread(target=writer, args=(b"a",))
    first.start()
    while not log._syncing:
        time.sleep(0.001)
    others = [threading.Thread(target=writer, args=(p,)) for p in (b"b", b"c", b"d")]
    for thread in others:
        thread.start()
    while log._written < 4:
        time.sleep(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert len(done) == 4
    assert len(synced) == 2  # one for "a", one shared by "b", "c" and "d"
    assert list(journal.read_segment(journal.segment_path(tmp_path, 1))) == [b"a", b"b", b"c", b"d"]


def test_rotate_seals_the_segment_and_drop_upto_removes_covered_ones(tmp_path: Path) -> None:
    log = journal.Journal(tmp_path, 3)
    log.wait_durable(log.append(b"x"))
    assert log.rotate() == 3
    log.wait_durable(log.append(b"y"))
    assert journal.segments(tmp_path) == [3, 4]
    journal.drop_upto(tmp_path, 3)
    assert journal.segments(tmp_path) == [4]
    assert list(journal.read_segment(journal.segment_path(tmp_path, 4))) == [b"y"]
    log.close()


class FakeMoto:
    """A WSGI app that records requests; a POST ?uploads answers a fresh upload id."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.fail_paths: set[str] = set()

    def __call__(self, environ: dict, start_response):
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"]))
        if environ["PATH_INFO"] in self.fail_paths:
            start_response("400 Bad Request", [])
            return [b""]
        start_response("200 OK", [("x-amz-version-id", f"v{len(self.seen)}")])
        if environ["QUERY_STRING"] == "uploads":
            return [f"<UploadId>new{len(self.seen)}</UploadId>".encode()]
        return [environ["wsgi.input"].read()]


def _no_queues() -> QueueLedger:
    # The fake moto has no queues; the default ledger would read the real moto's, shared by the whole test process.
    return QueueLedger(backends=dict)


def _mutation(method: str, path: str, query: str = "", ids: dict | None = None) -> bytes:
    headers = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/s3/aws4_request, "
                                     "SignedHeaders=host, Signature=journaled"}
    return Mutation(method, path, path, query, headers, b"body", ids or {}).encode()


def test_replay_applies_in_order_maps_generated_ids_and_carries_open_uploads() -> None:
    moto = FakeMoto()
    replay = Replay(moto, log=lambda text: None, ledger=_no_queues())
    replay.apply([
        _mutation("POST", "/b/big", "uploads", ids={"uploadId": "old1"}),
        _mutation("PUT", "/b/big", "partNumber=1&uploadId=old1"),
        _mutation("POST", "/b/open", "uploads", ids={"uploadId": "old2"}),
        _mutation("POST", "/b/big", "uploadId=old1"),
    ])
    assert moto.seen == [("POST", "/b/big", "uploads"), ("PUT", "/b/big", "partNumber=1&uploadId=new1"),
                         ("POST", "/b/open", "uploads"), ("POST", "/b/big", "uploadId=new1")]
    assert list(replay.open_uploads) == ["old2"]  # "big" was completed; "open" is carried on
    assert [Mutation.decode(p).path for p in replay.pending()] == ["/b/open"]
    assert replay.regions == {"eu-west-1"}


def test_a_record_moto_refuses_on_replay_is_reported_and_skipped() -> None:
    moto, logged = FakeMoto(), []
    moto.fail_paths.add("/gone")
    replay = Replay(moto, log=logged.append, ledger=_no_queues())
    replay.apply([_mutation("DELETE", "/gone"), _mutation("PUT", "/b/k")])
    assert [s[1] for s in moto.seen] == ["/gone", "/b/k"]
    assert logged == ["replay: DELETE /gone answered 400, skipped"]


def test_recovery_skips_segments_the_snapshot_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "snap-1").mkdir(parents=True)
    (data / "snap-1" / "manifest.json").write_text(json.dumps({"tables": [], "buckets": [], "journal_upto": 2}))
    (data / "current").symlink_to("snap-1")
    for number in (1, 2, 3):  # 1 and 2 were folded into snap-1 but a crash kept them from being deleted
        _write(journal_dir(data), number, [_mutation("PUT", f"/b/{number}")])
    moto = FakeMoto()
    state = recover(data, restore=lambda folder: snapshot.restore(folder, lambda service, region: None), app=moto,
                    log=lambda text: None)
    assert [s[1] for s in moto.seen] == ["/b/3"]
    assert (state.base, state.segments, state.next_segment) == (2, [3], 4)
    assert journal.segments(journal_dir(data)) == [3]


def test_recorder_journals_only_acknowledged_s3_and_dynamodb_writes(tmp_path: Path) -> None:
    moto = FakeMoto()
    moto.fail_paths.add("/b/refused")
    recorder = Recorder(moto, log=lambda text: None)
    recorder.journal = journal.Journal(tmp_path, 1)
    def send(method: str, path: str, **extra: str) -> None:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "wsgi.input": io.BytesIO(b"x"),
                   "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, "
                                         "SignedHeaders=host, Signature=abcdef", **extra}
        list(recorder(environ, lambda status, headers, exc_info=None: None))

    send("PUT", "/b/kept")
    send("PUT", "/b/refused")
    send("GET", "/b/kept")
    send("POST", "/", HTTP_X_AMZ_TARGET="DynamoDB_20120810.Query")
    kept = [Mutation.decode(p) for p in journal.read_segment(journal.segment_path(tmp_path, 1))]
    assert [(m.method, m.path, m.ids) for m in kept] == [("PUT", "/b/kept", {"versionId": "v1"})]
    assert "abcdef" not in kept[0].headers["HTTP_AUTHORIZATION"]  # the signature is not kept
    recorder.journal.close()


def test_which_requests_are_journaled() -> None:
    def scope(service: str) -> str:
        return f"AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host"

    ddb = {"REQUEST_METHOD": "POST", "HTTP_AUTHORIZATION": scope("dynamodb")}
    assert journaled_service({**ddb, "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem"}) == "dynamodb"
    assert journaled_service({**ddb, "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems"}) == "dynamodb"
    assert journaled_service({**ddb, "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactGetItems"}) is None
    assert journaled_service({**ddb, "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Scan"}) is None
    assert journaled_service({**ddb, "HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}) is None
    assert journaled_service({"REQUEST_METHOD": "PUT", "HTTP_AUTHORIZATION": scope("s3")}) == "s3"
    assert journaled_service({"REQUEST_METHOD": "PUT", "QUERY_STRING": "X-Amz-Credential=AK%2F20260101%2Fus-east-1"
                                                                        "%2Fs3%2Faws4_request"}) == "s3"
    assert journaled_service({"REQUEST_METHOD": "HEAD", "HTTP_AUTHORIZATION": scope("s3")}) is None
    assert journaled_service({"REQUEST_METHOD": "POST", "HTTP_AUTHORIZATION": scope("sqs")}) is None
