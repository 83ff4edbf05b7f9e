"""The snapshot restore in a child process: nothing to do without a snapshot, the child's last words on failure."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from esb_runtime.stores import restore
from esb_runtime.stores.auth import Credentials

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


def test_without_a_snapshot_no_child_runs_and_crash_leftovers_go(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "snap-half").mkdir(parents=True)  # a snapshot a crash left half written (no `current` link to it)
    assert restore.in_child(data, "http://127.0.0.1:9", CREDENTIALS, "token") is None
    assert not (data / "snap-half").exists()


def test_a_failed_restore_raises_with_the_childs_last_words(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "snap-1").mkdir(parents=True)
    manifest = {"tables": [{"create": {"TableName": "t", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                                       "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                                       "BillingMode": "PAY_PER_REQUEST"},
                            "region": "us-east-1", "items_file": "t.jsonl"}], "buckets": [], "journal_upto": 0}
    (data / "snap-1" / "manifest.json").write_text(json.dumps(manifest))
    (data / "current").symlink_to("snap-1")
    with socket.socket() as closed:  # a port nobody listens on: the child's first request fails
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(RuntimeError, match="snapshot restore failed: .*Could not connect"):
        restore.in_child(data, f"http://127.0.0.1:{port}", CREDENTIALS, "token")
