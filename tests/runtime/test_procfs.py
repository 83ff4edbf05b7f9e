"""What /proc says about a process's owner: the real uid from its status, whatever owns its directory."""

from __future__ import annotations

import os
from pathlib import Path

from esb_runtime import procfs


def test_the_real_uid_comes_from_the_status_not_the_directory_owner(tmp_path: Path) -> None:
    for pid, uid in (("7", 64001), ("8", 64002)):
        (tmp_path / pid).mkdir()  # owned by us, as a non-dumpable process's dir is owned by root
        (tmp_path / pid / "status").write_text(f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
    (tmp_path / "9").mkdir()  # gone meanwhile: no status
    assert procfs.real_uid(7, tmp_path) == 64001 and procfs.real_uid(9, tmp_path) is None
    assert procfs.running_as(64002, tmp_path) == [8]


def test_this_process_runs_as_its_own_uid() -> None:
    assert os.getpid() in procfs.running_as(os.getuid())
