"""Tests of `esb logs` (logs_command) over a JSON-lines store in a temporary output tree."""

from __future__ import annotations

import argparse
import io
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from esb.errors import ConfigError
from esb.box.logs import format_record, logs_command, parse_since
from esb.cli import build_parser
from esb.paths import BuildTree
from esb_runtime.logs.stores import JsonLinesStore

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def args(*argv: str) -> argparse.Namespace:
    """`esb logs ARGV` as the CLI parses it."""
    return build_parser().parse_args(["logs", *argv])


@pytest.fixture
def tree(tmp_path: Path) -> BuildTree:
    tree = BuildTree(tmp_path / ".esb")
    store = JsonLinesStore(tree.logs)
    store.write([
        {"time": "2024-05-01T11:00:00.000Z", "level": "INFO", "source": "sandbox", "function": "a",
         "request_id": "r1", "trace_id": "1-x-1", "message": "old start"},
        {"time": "2024-05-01T11:55:00.000Z", "level": "ERROR", "source": "sandbox", "function": "b",
         "request_id": "r2", "trace_id": "1-x-2", "message": "boom\n"},
        {"time": "2024-05-01T11:58:00.000Z", "level": "INFO", "source": "gateway", "function": "a",
         "request_id": "r3", "trace_id": "1-x-2", "message": "GET /hello 200"},
    ])
    store.close()
    return tree


def run(tree: BuildTree, *argv: str) -> list[str]:
    out = io.StringIO()
    assert logs_command(tree, None, args(*argv), out=out, clock=lambda: NOW) == 0
    return out.getvalue().splitlines()


def test_human_lines(tree: BuildTree) -> None:
    lines = run(tree)
    assert lines[1] == "2024-05-01T11:55:00.000Z ERROR b r2 boom"
    assert len(lines) == 3


def test_filters(tree: BuildTree) -> None:
    assert [line.split()[3] for line in run(tree, "a")] == ["r1", "r3"]
    assert [line.split()[3] for line in run(tree, "--since", "10m")] == ["r2", "r3"]
    assert [line.split()[3] for line in run(tree, "--since", "2024-05-01T11:56:00Z")] == ["r3"]
    assert [line.split()[3] for line in run(tree, "--trace", "Root=1-x-2;Parent=abc;Sampled=1")] == ["r2", "r3"]
    assert [line.split()[3] for line in run(tree, "--trace", "1-x-2", "a")] == ["r3"]
    assert [line.split()[3] for line in run(tree, "--request", "r1")] == ["r1"]
    assert [line.split()[3] for line in run(tree, "--grep", "/hello")] == ["r3"]


def test_json_output(tree: BuildTree) -> None:
    records = [json.loads(line) for line in run(tree, "--json", "b")]
    assert records == [{"time": "2024-05-01T11:55:00.000Z", "level": "ERROR", "source": "sandbox", "function": "b",
                        "request_id": "r2", "trace_id": "1-x-2", "message": "boom\n"}]


def test_bad_since() -> None:
    with pytest.raises(ConfigError, match="--since"):
        parse_since("yesterday", NOW)
    assert parse_since("90s", NOW) == datetime(2024, 5, 1, 11, 58, 30, tzinfo=timezone.utc)


def test_format_record_missing_fields() -> None:
    assert format_record({"message": "x"}) == "- -     - - x"


def test_follow_prints_new_records(tree: BuildTree) -> None:
    stop = threading.Event()
    out = io.StringIO()

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            out.write(text)
            if out.getvalue().count("\n") >= 3:
                stop.set()
            return len(text)

    thread = threading.Thread(target=logs_command, args=(tree, None, args("a", "--follow")),
                              kwargs={"out": Out(), "clock": lambda: NOW, "stop": stop})
    thread.start()
    JsonLinesStore(tree.logs, getpid=lambda: 4242).write([
        {"time": "2024-05-01T11:59:00.000Z", "level": "INFO", "function": "a", "request_id": "r4", "message": "new"}])
    thread.join(timeout=10)
    stop.set()
    assert not thread.is_alive()
    assert [line.split()[3] for line in out.getvalue().splitlines()] == ["r1", "r3", "r4"]


def test_level_filter_and_multi_line_records(tree: BuildTree) -> None:
    assert [line.split()[3] for line in run(tree, "--level", "error")] == ["r2"]
    assert len(run(tree, "--level", "debug")) == 3
    store = JsonLinesStore(tree.logs)
    store.write([{"time": "2024-05-01T11:59:00.000Z", "level": "error", "source": "sandbox", "function": "a",
                  "request_id": "r4", "message": "[ERROR] ValueError: kaboom\nTraceback (most recent call last):"},
                 {"time": "2024-05-01T11:59:01.000Z", "level": "debug", "source": "sandbox", "function": "a",
                  "request_id": "r5", "message": "emulator chatter"}])
    store.close()
    lines = run(tree, "--level", "error")
    assert lines[-2:] == ["2024-05-01T11:59:00.000Z error a r4 [ERROR] ValueError: kaboom",
                          "    Traceback (most recent call last):"]
    assert "emulator chatter" in run(tree, "--level", "debug")[-1]


def test_unknown_function_is_an_error_naming_the_known_ones(tree: BuildTree) -> None:
    from esb.box.logs import known_function

    tree.config.mkdir(parents=True, exist_ok=True)
    (tree.config / "functions.yml").write_text(
        "project: p\nregion: us-east-1\naccount_id: '000000000000'\nfunctions:\n"
        "  p-hello:\n    logical_id: HelloFunction\n    handler: app.handler\n    runtime: python3.11\n"
        "    code_dir: functions/p-hello/src\n")
    assert known_function(tree, "p-hello") == "p-hello"
    assert known_function(tree, "HelloFunction") == "p-hello"
    with pytest.raises(ConfigError, match=r"unknown function 'NoSuchFn'.*functions: p-hello"):
        known_function(tree, "NoSuchFn")
