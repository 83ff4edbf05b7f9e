"""functions.yml reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from esb_runtime.config import FunctionsConfigError, load_functions


def test_reads_entries_with_absolute_paths(write_function: Callable[..., Path],
                                           write_functions_yml: Callable[..., Path]) -> None:
    write_function("fn", "def handler(e, c): return 1\n")
    path = write_functions_yml({"fn": {"environment": {"B": "2", "A": 1}, "reserved_concurrency": 2,
                                       "schedules": [{"name": "Tick", "expression": "rate(5 minutes)"}]}})
    app = load_functions(path)
    fn = app.functions["fn"]
    assert app.project == "test" and app.region == "us-east-1"
    assert fn.code_dir == path.parent.parent / "functions/fn/src" and fn.code_dir.is_dir()
    assert fn.environment == (("A", "1"), ("B", "2")) and fn.reserved_concurrency == 2
    assert fn.schedules[0].expression == "rate(5 minutes)" and fn.function_url is None


def test_sandbox_hash_follows_code_hash(write_function: Callable[..., Path],
                                        write_functions_yml: Callable[..., Path]) -> None:
    write_function("fn", "def handler(e, c): return 1\n")
    fn = load_functions(write_functions_yml({"fn": {}})).functions["fn"]
    before = fn.sandbox_hash()
    assert fn.manifest is not None
    fn.manifest.write_text(json.dumps({"code_hash": "other"}))
    assert fn.sandbox_hash() != before


def test_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FunctionsConfigError, match="esb build"):
        load_functions(tmp_path / "config" / "functions.yml")
    bad = tmp_path / "functions.yml"
    bad.write_text("functions:\n  fn: {runtime: python3.11}\n")
    with pytest.raises(FunctionsConfigError, match="handler"):
        load_functions(bad)


def test_debug_switch_sets_the_rie_log_level_and_survives_the_child_environment(tmp_path) -> None:
    from esb_runtime.contract import rie_log_level
    from esb_runtime.settings import RuntimeSettings

    quiet = RuntimeSettings.from_env({"ESB_OUTPUT_DIR": str(tmp_path)})
    loud = RuntimeSettings.from_env({"ESB_OUTPUT_DIR": str(tmp_path), "ESB_DEBUG": "1"})
    assert (quiet.debug, rie_log_level(quiet.debug)) == (False, "error")
    assert (loud.debug, rie_log_level(loud.debug)) == (True, "debug")
    assert RuntimeSettings.from_env(loud.to_env()).debug and not RuntimeSettings.from_env(quiet.to_env()).debug
    assert loud.lease_socket == loud.manager_socket.with_name("leases.sock")
