"""The watcher against a real box (`esb up -d` on a copy of the sample, process engine): real saves, real HTTPS."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from boxkit import Box, copy_app, hello_version, make_watcher, running_box
from boxkit import eventually as poll
from esb.watch.loop import Watcher
from test_loop import NEW_FUNCTION, NEW_QUEUE, NEW_TABLE

HANDLER = '''import json, time


def handler(event, context):
    time.sleep({sleep})
    return {{"statusCode": 200, "body": json.dumps({{"version": "{version}"}})}}
'''


@pytest.fixture
def box(tmp_path: Path, rie_path: Path) -> Iterator[Box]:
    project = copy_app("sample", tmp_path)
    with running_box(project, "--engine", "process", env={"ESB_RIE_PATH": str(rie_path)}) as running:
        yield running


@pytest.fixture
def watcher(box: Box) -> tuple[Watcher, list[str]]:
    return make_watcher(box)


def save_hello(box: Box, version: str, sleep: float = 0.0) -> None:
    (box.project / "functions" / "hello" / "app.py").write_text(HANDLER.format(version=version, sleep=sleep))


version_of = hello_version


def eventually(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    return poll(check, timeout_s)


def sandboxes(box: Box, function: str) -> set[str]:
    return {sb["id"] for sb in box.refresh()["sandboxes"] if sb["function"] == function}


def test_saved_code_is_served_and_other_functions_keep_their_sandboxes(box: Box, watcher: Any) -> None:
    w, lines = watcher
    auth = {"Authorization": f"Bearer {box.token()}"}
    assert box.client.get("/whoami", headers=auth).status_code == 200
    assert version_of(box) == "original"
    whoami_before = sandboxes(box, "sample-whoami")
    assert whoami_before
    save_hello(box, "v2")
    assert w.run_batch().ok, lines
    assert eventually(lambda: version_of(box) == "v2")
    assert [version_of(box) for _ in range(20)] == ["v2"] * 20
    assert box.client.get("/whoami", headers=auth).status_code == 200
    assert sandboxes(box, "sample-whoami") == whoami_before


def test_first_request_after_a_batch_never_gets_stale_code(box: Box, watcher: Any) -> None:
    w, lines = watcher
    for version in ("a", "b", "c"):
        save_hello(box, version)
        assert w.run_batch().ok, lines
        assert version_of(box) == version  # no polling: once the batch returns, old code is gone


def test_in_flight_request_completes_across_a_reload(box: Box, watcher: Any) -> None:
    w, lines = watcher
    save_hello(box, "slow", sleep=1.5)
    assert w.run_batch().ok, lines
    assert version_of(box) == "slow"  # warm
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(box.client.get("/hello")))
    thread.start()
    time.sleep(0.3)  # the slow call is now inside the sandbox
    save_hello(box, "fast")
    assert w.run_batch().ok, lines
    assert version_of(box) == "fast"
    thread.join(10)
    assert answers and answers[0].status_code == 200 and answers[0].json() == {"version": "slow"}


def test_new_route_answers_and_removed_function_404s_and_stops(box: Box, watcher: Any) -> None:
    w, lines = watcher
    auth = {"Authorization": f"Bearer {box.token()}"}
    assert box.client.get("/whoami", headers=auth).status_code == 200
    assert sandboxes(box, "sample-whoami")
    bye = box.project / "functions" / "bye"
    bye.mkdir()
    (bye / "app.py").write_text(HANDLER.format(version="bye", sleep=0))
    template = box.project / "template.yaml"
    text = template.read_text()
    text = text[:text.index("  WhoAmIFunction:")] + text[text.index("  ItemsFunction:"):]
    template.write_text(text + NEW_FUNCTION)
    assert w.run_batch().ok, lines
    assert eventually(lambda: box.client.get("/bye").status_code == 200)  # the gateway re-reads routing each second
    assert box.client.get("/bye").json() == {"version": "bye"}
    # Its path is gone: the REST API answers 403 Missing Authentication Token, as API Gateway does.
    assert eventually(lambda: box.client.get("/whoami", headers=auth).status_code == 403)
    assert eventually(lambda: not sandboxes(box, "sample-whoami"))
    assert version_of(box) == "original"


def test_new_table_is_created_in_the_store(box: Box, watcher: Any) -> None:
    w, lines = watcher
    template = box.project / "template.yaml"
    template.write_text(template.read_text() + NEW_TABLE)
    result = w.run_batch()
    assert result.ok and result.provision_report, lines
    assert "sample-orders" in box.boto3("dynamodb").list_tables()["TableNames"]


def test_new_queue_is_created_in_the_store(box: Box, watcher: Any) -> None:
    w, lines = watcher
    template = box.project / "template.yaml"
    template.write_text(template.read_text() + NEW_QUEUE)
    result = w.run_batch()
    assert result.ok and "queue sample-work created" in (result.provision_report or ""), lines
    assert box.boto3("sqs").get_queue_url(QueueName="sample-work")["QueueUrl"].endswith("/sample-work")


def test_broken_saves_keep_serving_the_last_good_build(box: Box, watcher: Any) -> None:
    w, lines = watcher
    save_hello(box, "good")
    assert w.run_batch().ok, lines
    assert version_of(box) == "good"
    hello = box.project / "functions" / "hello" / "app.py"
    hello.write_text("def handler(event, context:\n    return 1\n")
    assert not w.run_batch().ok
    assert "SyntaxError" in lines[-1]
    assert [version_of(box) for _ in range(20)] == ["good"] * 20
    template = box.project / "template.yaml"
    good_template = template.read_text()
    template.write_text(good_template.replace("Resources:", "Resources: [", 1))
    save_hello(box, "after")
    assert not w.run_batch().ok
    assert "template.yaml" in lines[-1]
    assert [version_of(box) for _ in range(5)] == ["good"] * 5
    template.write_text(good_template)
    assert w.run_batch().ok, lines
    assert version_of(box) == "after"


def test_watch_loop_serves_a_save_without_manual_batches(box: Box, watcher: Any) -> None:
    w, _lines = watcher
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,), kwargs={"initial": False}, daemon=True)
    thread.start()
    try:
        assert w.armed.wait(10)
        save_hello(box, "looped")
        assert eventually(lambda: version_of(box) == "looped")
        assert [version_of(box) for _ in range(20)] == ["looped"] * 20
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
