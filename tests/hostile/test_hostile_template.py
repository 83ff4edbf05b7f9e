"""Hostile and invalid templates: refused at once with one line naming the place; reserved concurrency 0 throttles."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from esb.errors import TemplateError
from esb.sam import load_application
from esb.sam.yaml_loader import MAX_TEMPLATE_BYTES, load_template
from esb_runtime.errors import TooManyRequests
from esb_runtime.manager.pool import Pool, Slot
from esb_runtime.manager.process_engine import ProcessEngine
from esb_runtime.manager.service import Manager
from esb_runtime.settings import RuntimeSettings

FN = """\
Fn:
  Type: AWS::Serverless::Function
  Properties:
    CodeUri: src
    Handler: app.handler
    Runtime: python3.12
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load_fn(tmp_path: Path, extra: str = "", fn: str = FN) -> Any:
    (tmp_path / "src").mkdir(exist_ok=True)
    body = fn + textwrap.indent(textwrap.dedent(extra), "    ")
    return load_application(write(tmp_path, "Resources:\n" + textwrap.indent(body, "  ")))


def one_line(exc: pytest.ExceptionInfo[TemplateError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_alias_bomb_is_refused_before_any_expansion(tmp_path: Path) -> None:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for index, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[index]
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    path = write(tmp_path, "\n".join(levels) + "\n")
    started = time.process_time()
    with pytest.raises(TemplateError) as exc:
        load_template(path)
    assert time.process_time() - started < 5  # expansion of 9^9 would not end for minutes
    assert "anchors and aliases" in one_line(exc) and "template.yaml:1" in str(exc.value)


def test_plain_anchor_without_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="anchors and aliases"):
        load_template(write(tmp_path, "Resources: &r {}\n"))


@pytest.mark.parametrize("text, tag", [
    ("A: !!python/object/apply:os.system [true]\n", "python/object"),
    ("A: !!set {a, b}\n", "set"),
    ("A: !!binary aGk=\n", "binary"),
    ("A: !Foo x\n", "!Foo"),
])
def test_unknown_tags_are_refused(tmp_path: Path, text: str, tag: str) -> None:
    with pytest.raises(TemplateError) as exc:
        load_template(write(tmp_path, text))
    assert "unknown tag" in one_line(exc) and tag in str(exc.value)


def test_cloudformation_and_plain_tags_still_load(tmp_path: Path) -> None:
    data = load_template(write(tmp_path, "A: !!str 3\nB: !Ref X\nC: !GetAtt R.Arn\nD: !Sub [a, {b: !Ref c}]\n"))
    assert data == {"A": "3", "B": {"Ref": "X"}, "C": {"Fn::GetAtt": "R.Arn"},
                    "D": {"Fn::Sub": ["a", {"b": {"Ref": "c"}}]}}


def test_oversized_template_is_refused_unparsed(tmp_path: Path) -> None:
    path = write(tmp_path, "Description: " + "x" * MAX_TEMPLATE_BYTES + "\n")
    with pytest.raises(TemplateError) as exc:
        load_template(path)
    assert "larger than" in one_line(exc)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="nests deeper"):
        load_template(write(tmp_path, "A: " + "[" * 5000 + "]" * 5000 + "\n"))


def test_function_without_code_uri_is_an_error(tmp_path: Path) -> None:
    fn = FN.replace("    CodeUri: src\n", "")
    with pytest.raises(TemplateError) as exc:
        load_fn(tmp_path, fn=fn)
    assert "Fn has no CodeUri" in one_line(exc) and "template.yaml:" in str(exc.value)


@pytest.mark.parametrize("extra, message", [
    ("MemorySize: 64\n", "MemorySize must be between 128 and 10240, got 64"),
    ("MemorySize: 100000000000\n", "MemorySize must be between 128 and 10240"),
    ("MemorySize: 1e11\n", "MemorySize must be a whole number"),
    ("Timeout: 0\n", "Timeout must be between 1 and 900, got 0"),
    ("Timeout: 901\n", "Timeout must be between 1 and 900, got 901"),
    ("ReservedConcurrentExecutions: -1\n", "ReservedConcurrentExecutions must be 0 or more, got -1"),
])
def test_lambda_limits(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(TemplateError) as exc:
        load_fn(tmp_path, extra)
    assert message in one_line(exc) and "Fn." in str(exc.value)


def test_limits_at_the_edges_load(tmp_path: Path) -> None:
    fn = load_fn(tmp_path, "MemorySize: 10240\nTimeout: 900\nReservedConcurrentExecutions: 0\n").function("Fn")
    assert (fn.memory_size, fn.timeout, fn.reserved_concurrency) == (10240, 900, 0)


@pytest.mark.parametrize("path, message", [
    ("/files/{proxy+}/more", "must be the last segment"),
    ("/a//b", "empty segment"),
    ("/a/{id}/{id}", "uses {id} twice"),
    ("/a/{bad name}", "neither text nor"),
    ("files", "must start with /"),
])
def test_route_path_syntax(tmp_path: Path, path: str, message: str) -> None:
    events = f"Events:\n  E:\n    Type: Api\n    Properties: {{Path: '{path}', Method: GET}}\n"
    with pytest.raises(TemplateError) as exc:
        load_fn(tmp_path, events)
    assert message in one_line(exc) and "Fn.Events.E.Properties.Path" in str(exc.value)


def test_greedy_last_and_params_load(tmp_path: Path) -> None:
    events = "Events:\n  E:\n    Type: HttpApi\n    Properties: {Path: '/u/{id}/f/{proxy+}', Method: GET}\n"
    assert load_fn(tmp_path, events).function("Fn").events[0].path == "/u/{id}/f/{proxy+}"


def test_pool_of_size_zero_throttles_without_starting() -> None:
    started: list[int] = []

    def start() -> Slot:
        started.append(1)
        return Slot(sandbox=object(), hash="h")

    pool = Pool("fn", current_hash="h", max_size=0, acquire_timeout_s=5.0, start=start,
                stop=lambda slot: None, alive=lambda slot: True)
    began = time.monotonic()
    with pytest.raises(TooManyRequests, match="reserved concurrency is 0"):
        pool.acquire()
    assert started == [] and time.monotonic() - began < 1  # refused at once, not after the 5 s wait


def test_manager_throttles_reserved_zero_every_call(
    tmp_path: Path, rie_path: Path, write_function: Callable[..., Path], write_functions_yml: Callable[..., Path],
) -> None:
    write_function("fn", "def handler(event, context):\n    return 1\n")
    write_functions_yml({"fn": {"reserved_concurrency": 0}})
    out = tmp_path / ".esb"
    settings = RuntimeSettings(output_dir=out, manager_socket=out / "state" / "manager.sock", rie_path=rie_path)
    manager = Manager(settings, ProcessEngine(rie_path), lambda records: None)
    try:
        for _ in range(3):
            with pytest.raises(TooManyRequests):
                manager.invoke("fn", b"{}")
    finally:
        manager.close()
