"""Unit tests of the watcher: what is watched, one batch per save, broken saves, the watchfiles loop (no box)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from esb.cli import main
from esb.model import Application
from esb.paths import P
from esb.project import load_project
from esb.build.context import BuildContext, build_context
from esb.watch.loop import Watcher
from esb.watch.filters import is_noise, plan_for

NEW_TABLE = """
  OrdersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-orders"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
"""

NEW_QUEUE = """
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-work"
"""

NEW_FUNCTION = """
  ByeFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-bye"
      CodeUri: functions/bye/
      Events:
        Bye:
          Type: Api
          Properties:
            Path: /bye
            Method: get
            Auth:
              Authorizer: NONE
"""

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "%s"}\n'


class FakeBox:
    def __init__(self, running: bool = True) -> None:
        self.is_running = running
        self.reloads = 0
        self.provisioned: list[Application] = []

    def running(self) -> bool:
        return self.is_running

    def engine(self) -> str | None:
        return "process" if self.is_running else None

    def reload(self) -> list[str]:
        self.reloads += 1
        return []

    def provision(self, app: Application) -> str:
        self.provisioned.append(app)
        return "created table app-orders"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(P.sample, target, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    return target


def load(app_dir: Path) -> BuildContext:
    return build_context(load_project(str(app_dir / "template.yaml"), cwd=app_dir, env={}))


@pytest.fixture
def watcher(app_dir: Path) -> Iterator[tuple[Watcher, FakeBox, list[str]]]:
    box, lines = FakeBox(), []
    w = Watcher(load(app_dir), box=box, say=lines.append)
    first = w.run_batch()
    assert first.ok, first.line
    yield w, box, lines


def staged(w: Watcher, function: str) -> str:
    return (w.ctx.tree.function_src(function) / "app.py").read_text()


def append_to_template(app_dir: Path, text: str) -> None:
    path = app_dir / "template.yaml"
    path.write_text(path.read_text() + text)


# --- what is watched -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["app.py.swp", ".app.py.swx", "app.py~", ".#app.py", "4913", "#app.py#", "x.pyc"])
def test_editor_temp_files_are_noise(name: str) -> None:
    assert is_noise(Path("/p/functions/hello") / name)


def test_plan_watches_sources_and_never_the_output_tree(app_dir: Path) -> None:
    ctx = load(app_dir)
    plan = plan_for(ctx)
    hello = app_dir / "functions" / "hello"
    assert app_dir.resolve() in plan.dirs and hello.resolve() in plan.dirs
    assert not any(ctx.tree.root.resolve() in (d, *d.parents) for d in plan.dirs)
    assert plan.relevant((app_dir / "template.yaml").resolve())
    assert plan.relevant((app_dir / "generator.yml").resolve())
    assert plan.relevant((hello / "app.py").resolve())
    assert not plan.relevant((app_dir / "README.md").resolve())
    assert not plan.relevant((hello / "__pycache__" / "app.cpython-311.pyc").resolve())
    assert not plan.relevant((hello / "app.py.swp").resolve())
    assert not plan.relevant(ctx.tree.functions_config.resolve())


def test_code_uri_at_project_root_still_skips_the_output_tree(app_dir: Path) -> None:
    text = (app_dir / "template.yaml").read_text().replace("CodeUri: functions/hello/", "CodeUri: .")
    (app_dir / "template.yaml").write_text(text)
    (app_dir / "app.py").write_text(HANDLER % "root")
    ctx = load(app_dir)
    plan = plan_for(ctx)
    assert plan.relevant((app_dir / "app.py").resolve())
    assert not plan.relevant((ctx.tree.logs / "x.jsonl").resolve())
    assert all(ctx.tree.root.resolve() not in (d, *d.parents) for d in plan.dirs)


# --- one batch ---------------------------------------------------------------------------------------
def test_handler_save_restages_only_that_function_and_reloads(watcher: Any, app_dir: Path) -> None:
    w, box, _lines = watcher
    before = box.reloads
    (app_dir / "functions" / "hello" / "app.py").write_text(HANDLER % "v2")
    result = w.run_batch()
    assert result.ok
    assert result.tasks == ("stage:HelloFunction",)
    assert "v2" in staged(w, "app-hello")
    assert box.reloads == before + 1


def test_broken_handler_keeps_last_good_build_then_recovers(watcher: Any, app_dir: Path) -> None:
    w, box, lines = watcher
    handler = app_dir / "functions" / "hello" / "app.py"
    good = staged(w, "app-hello")
    manifest = w.ctx.tree.function_manifest("app-hello").read_bytes()
    reloads = box.reloads
    handler.write_text("def handler(event, context:\n    return 1\n")
    result = w.run_batch()
    assert not result.ok
    assert lines[-1].count("\n") == 0 and "app.py:1" in lines[-1] and "SyntaxError" in lines[-1]
    assert staged(w, "app-hello") == good
    assert w.ctx.tree.function_manifest("app-hello").read_bytes() == manifest
    assert box.reloads == reloads
    handler.write_text(HANDLER % "fixed")
    assert w.run_batch().ok
    assert "fixed" in staged(w, "app-hello")


def test_broken_template_keeps_last_good_build_then_recovers(watcher: Any, app_dir: Path) -> None:
    w, _box, lines = watcher
    template = app_dir / "template.yaml"
    good_text = template.read_text()
    routing = w.ctx.tree.routing.read_bytes()
    template.write_text(good_text + "\n  Broken: [unclosed\n")
    result = w.run_batch()
    assert not result.ok and "template.yaml" in lines[-1] and "\n" not in lines[-1]
    assert w.ctx.tree.routing.read_bytes() == routing
    template.write_text(good_text + NEW_FUNCTION)
    (app_dir / "functions" / "bye").mkdir()
    (app_dir / "functions" / "bye" / "app.py").write_text(HANDLER % "bye")
    assert w.run_batch().ok
    routes = yaml.safe_load(w.ctx.tree.routing.read_text())["routes"]
    assert {"path": "/bye", "function": "app-bye"}.items() <= next(r for r in routes if r["path"] == "/bye").items()


def test_removed_function_leaves_config_and_routing(watcher: Any, app_dir: Path) -> None:
    w, _box, lines = watcher
    template = app_dir / "template.yaml"
    text = template.read_text()
    start = text.index("  WhoAmIFunction:")
    template.write_text(text[:start] + text[text.index("  ItemsFunction:"):])
    assert w.run_batch().ok
    functions = yaml.safe_load(w.ctx.tree.functions_config.read_text())["functions"]
    routes = yaml.safe_load(w.ctx.tree.routing.read_text())["routes"]
    assert "app-whoami" not in functions and all(r["path"] != "/whoami" for r in routes)
    assert "functions removed: app-whoami" in lines[-1] and "routes removed: GET /whoami" in lines[-1]


def test_stores_provisioned_only_when_tables_or_buckets_change(watcher: Any, app_dir: Path) -> None:
    w, box, lines = watcher
    (app_dir / "functions" / "hello" / "app.py").write_text(HANDLER % "v3")
    assert w.run_batch().ok and box.provisioned == []
    append_to_template(app_dir, NEW_TABLE)
    assert w.run_batch().ok
    assert [t.name for t in box.provisioned[-1].tables] == ["app-items", "app-orders"]
    assert "created table app-orders" in lines[-1]
    assert w.run_batch().ok and len(box.provisioned) == 1


def test_stores_provisioned_when_a_queue_is_added(watcher: Any, app_dir: Path) -> None:
    w, box, lines = watcher
    append_to_template(app_dir, NEW_QUEUE)
    assert w.run_batch().ok
    assert [r.name for r in box.provisioned[-1].resources] == ["app-work"]
    assert w.run_batch().ok and len(box.provisioned) == 1


def test_without_a_box_the_batch_builds_only(app_dir: Path) -> None:
    box, lines = FakeBox(running=False), []
    w = Watcher(load(app_dir), box=box, say=lines.append)
    assert w.run_batch().ok
    assert box.reloads == 0 and "no box running" in lines[-1]
    assert w.ctx.tree.functions_config.is_file()


# --- the watchfiles loop -----------------------------------------------------------------------------
def _start(w: Watcher) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,), kwargs={"initial": False}, daemon=True)
    thread.start()
    assert w.armed.wait(10)
    return stop, thread


def test_loop_builds_on_save_ignores_editor_noise_and_stops(watcher: Any, app_dir: Path) -> None:
    w, _box, _lines = watcher
    stop, thread = _start(w)
    try:
        count = w.batches
        hello = app_dir / "functions" / "hello"
        (hello / ".app.py.swp").write_text("swap")
        (hello / "4913").write_text("")
        (app_dir / "README.md").write_text("docs")
        (hello / "app.py").write_text(HANDLER % "looped")
        assert w.wait_batches(count + 1, 10)
        assert "looped" in staged(w, "app-hello")
        assert not w.wait_batches(count + 2, 0.5)  # the noise made no batch of its own
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def _eventually(check: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def test_loop_rearms_on_a_new_function_directory(watcher: Any, app_dir: Path) -> None:
    w, _box, _lines = watcher
    stop, thread = _start(w)
    try:
        bye = app_dir / "functions" / "bye"
        bye.mkdir()
        (bye / "app.py").write_text(HANDLER % "bye")
        append_to_template(app_dir, NEW_FUNCTION)
        # One batch or two, depending on timing; then the watch is re-armed on the new directory.
        assert _eventually(lambda: bye.resolve() in w.armed_dirs, 10)
        (bye / "app.py").write_text(HANDLER % "bye2")  # only seen if the new dir is watched
        assert _eventually(lambda: "bye2" in staged(w, "app-bye"), 10)
    finally:
        stop.set()
        thread.join(10)


def test_up_watch_with_detach_is_refused(app_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-t", str(app_dir / "template.yaml"), "up", "--watch", "-d"])
    assert code != 0
    assert "--watch runs in the foreground" in capsys.readouterr().err


