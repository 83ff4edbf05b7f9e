"""One uid per sandbox slot: allocated from the documented range, recorded in the box state, reused after a
restart, and never the same on two boxes of one host."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from esb_runtime.errors import EngineError
from esb_runtime.manager.host_uids import HostUids
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
    assert json.loads(path.read_text())["functions"] == {"a": [FIRST_UID], "b": [FIRST_UID + 1], "c": [FIRST_UID + 2]}


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
    path.write_text(json.dumps({"functions": {"root-ish": 0, "ok": FIRST_UID + 5, "half": [FIRST_UID + 6, 0]}}))
    book = IdentityBook(path, taken=lambda uid: False)
    assert book.recorded() == {"ok": [FIRST_UID + 5]}  # an older book's single uid is its slot 0
    assert book.identity("root-ish").uid == FIRST_UID
    path.write_text("{not json")
    assert IdentityBook(path, taken=lambda uid: False).recorded() == {}


def test_live_uids_reads_the_owner_of_each_process_dir(tmp_path: Path) -> None:
    import os

    from esb_runtime.manager.identities import live_uids

    (tmp_path / "1").mkdir()
    (tmp_path / "self").mkdir()
    assert live_uids(tmp_path) == {os.geteuid()}


def test_each_live_sandbox_of_a_function_has_its_own_uid_and_a_freed_slot_is_reused(tmp_path: Path) -> None:
    book = IdentityBook(tmp_path / "i.json", taken=lambda uid: False)
    first, second = book.take("fn"), book.take("fn")
    other = book.take("other")
    assert first.uid != second.uid and first.gid == second.gid == first.uid  # siblings: one group, two users
    assert other.uid not in (first.uid, second.uid)
    book.give_back("fn", first)
    assert book.take("fn") == first  # the lowest free slot
    assert book.take("fn").uid not in (first.uid, second.uid, other.uid)  # a third at once: one more uid
    assert book.recorded()["fn"][:2] == [first.uid, second.uid]


def _host_book(path: Path, host: Path) -> IdentityBook:
    # taken=False: the other box is down, so /proc shows none of its uids; only the host registry knows them.
    return IdentityBook(path, taken=lambda uid: False, host=HostUids(host))


def test_two_boxes_never_share_a_uid_even_when_one_was_down(tmp_path: Path) -> None:
    host = tmp_path / "host"
    box_a, box_b = tmp_path / "a" / "identities.json", tmp_path / "b" / "identities.json"
    a = _host_book(box_a, host).identity("fn")
    b = _host_book(box_b, host).identity("fn")
    assert (a.uid, b.uid) == (FIRST_UID, FIRST_UID + 1)
    assert _host_book(box_a, host).identity("fn") == a  # a restarted box keeps its uid
    assert stat.S_IMODE(host.stat().st_mode) == 0o700
    assert json.loads((host / "uids.json").read_text())["uids"] == {str(FIRST_UID): str(box_a),
                                                                    str(FIRST_UID + 1): str(box_b)}
    box_a.unlink()  # project a removed: its uid is free again
    assert _host_book(box_b, host).identity("new").uid == FIRST_UID


def test_a_recorded_uid_another_box_holds_now_is_replaced(tmp_path: Path) -> None:
    host = tmp_path / "host"
    box_a, box_b = tmp_path / "a" / "identities.json", tmp_path / "b" / "identities.json"
    _host_book(box_a, host).identity("fn")
    (host / "uids.json").unlink()  # the registry lost (e.g. a wiped /var/lib/esb) while box a was down
    assert _host_book(box_b, host).identity("fn").uid == FIRST_UID
    again = _host_book(box_a, host).identity("fn")
    assert again.uid == FIRST_UID + 1 and json.loads(box_a.read_text())["functions"] == {"fn": [FIRST_UID + 1]}


def test_a_host_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir(mode=0o777)
    host.chmod(0o777)
    with pytest.raises(EngineError, match="no one else may write"):
        _host_book(tmp_path / "i.json", host).identity("fn")
