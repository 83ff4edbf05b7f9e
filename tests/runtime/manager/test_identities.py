"""One uid per function: allocated from the documented range, recorded in the box state, reused after a restart."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from esb_runtime.errors import EngineError
from esb_runtime.manager.identities import FIRST_UID, IdentityBook


def test_each_function_gets_its_own_uid_and_gid_from_the_range(tmp_path: Path) -> None:
    book = IdentityBook(tmp_path / "identities.json", taken=lambda uid: False)
    one, two = book.identity("fn-a"), book.identity("fn-b")
    assert (one.uid, one.gid, two.uid, two.gid) == (FIRST_UID, FIRST_UID, FIRST_UID + 1, FIRST_UID + 1)
    assert book.identity("fn-a") == one


def test_the_book_survives_a_restart_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "identities.json"
    first = IdentityBook(path, taken=lambda uid: False)
    a, b = first.identity("a"), first.identity("b")
    again = IdentityBook(path, taken=lambda uid: False)
    assert again.identity("b") == b and again.identity("a") == a and again.identity("c").uid == FIRST_UID + 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["functions"] == {"a": FIRST_UID, "b": FIRST_UID + 1, "c": FIRST_UID + 2}


def test_uids_a_real_account_has_are_skipped(tmp_path: Path) -> None:
    book = IdentityBook(tmp_path / "i.json", taken=lambda uid: uid == FIRST_UID)
    assert book.identity("fn").uid == FIRST_UID + 1


def test_a_full_range_is_one_clear_error(tmp_path: Path) -> None:
    book = IdentityBook(tmp_path / "i.json", first=64000, last=64001, taken=lambda uid: False)
    book.identity("a"), book.identity("b")
    with pytest.raises(EngineError, match="no free sandbox uid left in 64000-64001"):
        book.identity("c")


def test_a_damaged_book_or_an_out_of_range_entry_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "i.json"
    path.write_text(json.dumps({"functions": {"root-ish": 0, "ok": FIRST_UID + 5}}))
    book = IdentityBook(path, taken=lambda uid: False)
    assert book.recorded() == {"ok": FIRST_UID + 5}
    assert book.identity("root-ish").uid == FIRST_UID
    path.write_text("{not json")
    assert IdentityBook(path, taken=lambda uid: False).recorded() == {}


def test_live_uids_reads_the_owner_of_each_process_dir(tmp_path: Path) -> None:
    import os

    from esb_runtime.manager.identities import live_uids

    (tmp_path / "1").mkdir()
    (tmp_path / "self").mkdir()
    assert live_uids(tmp_path) == {os.geteuid()}
