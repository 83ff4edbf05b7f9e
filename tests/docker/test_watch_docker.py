"""`esb watch` against a docker box: a save rebuilds one function's image, the next answers are new, others keep their containers."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

import docker.errors
import pytest

from boxkit import Box, hello_version, make_watcher, running_box
from boxkit import eventually as poll
from esb.paths import P
from esb.watch.loop import Watcher
from boxkit import remove_images as remove_project_images

pytestmark = pytest.mark.docker

HANDLER = '''import json


def handler(event, context):
    return {{"statusCode": 200, "body": json.dumps({{"version": "{version}"}})}}
'''


@pytest.fixture(scope="module")
def box(docker_daemon: None, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    """One docker box for the module: a copy of the sample under a unique stack name (its container label)."""
    name = f"dwatch{uuid.uuid4().hex[:8]}"
    project = tmp_path_factory.mktemp("dwatch") / name
    shutil.copytree(P.fixtures / "sample", project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    try:
        with running_box(project, engine="docker") as running:
            assert running.status["engine"] == "docker"
            yield running
    finally:
        remove_project_images(name)


@pytest.fixture
def watcher(box: Box) -> tuple[Watcher, list[str]]:
    return make_watcher(box)


def stack(box: Box) -> str:
    return box.project.name


def save_hello(box: Box, version: str) -> None:
    (box.project / "functions" / "hello" / "app.py").write_text(HANDLER.format(version=version))


version_of = hello_version


def eventually(check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    return poll(check, timeout_s)


def image_ids(box: Box) -> dict[str, str]:
    """function -> image id, from the functions/<fn>/image.json records the image tasks write."""
    records = (box.project / ".esb" / "functions").glob("*/image.json")
    return {record.parent.name: json.loads(record.read_text())["id"] for record in records}


def containers(docker_client: Any, box: Box, function: str) -> dict[str, str]:
    """container id -> image id of the running containers of one function."""
    labels = [f"esb.project={stack(box)}", f"esb.function={stack(box)}-{function}"]
    return {c.id: c.attrs["Image"] for c in docker_client.containers.list(filters={"label": labels})}


def sandboxes(box: Box, function: str) -> set[str]:
    return {sb["id"] for sb in box.refresh()["sandboxes"] if sb["function"] == f"{stack(box)}-{function}"}


def test_watch_loop_serves_a_save_and_leaves_other_functions_alone(box: Box, watcher: Any,
                                                                    docker_client: Any) -> None:
    w, lines = watcher
    auth = {"Authorization": f"Bearer {box.token()}"}
    assert box.client.get("/whoami", headers=auth).status_code == 200
    assert version_of(box) == "original"
    images_before = image_ids(box)
    assert len(images_before) == 3, images_before
    whoami_containers, whoami_sandboxes = containers(docker_client, box, "whoami"), sandboxes(box, "whoami")
    hello_containers = containers(docker_client, box, "hello")
    assert whoami_containers and whoami_sandboxes and hello_containers

    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,), kwargs={"initial": False}, daemon=True)
    thread.start()
    try:
        assert w.armed.wait(10)
        save_hello(box, "docker-v2")
        assert eventually(lambda: version_of(box) == "docker-v2"), lines
        assert [version_of(box) for _ in range(20)] == ["docker-v2"] * 20
        assert w.wait_batches(1, 30)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert w.last is not None and w.last.ok and w.last.reloaded, lines
    assert [t for t in w.last.tasks if t.startswith("image:")] == ["image:HelloFunction"], lines

    images_after = image_ids(box)
    changed = {fn for fn in images_before if images_before[fn] != images_after[fn]}
    assert changed == {f"{stack(box)}-hello"}, (images_before, images_after)
    new_hello = containers(docker_client, box, "hello")
    assert new_hello and not set(new_hello) & set(hello_containers)  # old-code containers are gone
    assert set(new_hello.values()) == {images_after[f"{stack(box)}-hello"]}  # they run the rebuilt image

    assert box.client.get("/whoami", headers=auth).status_code == 200
    assert containers(docker_client, box, "whoami") == whoami_containers  # same containers, same image
    assert sandboxes(box, "whoami") == whoami_sandboxes


def test_first_request_after_each_batch_runs_the_new_image(box: Box, watcher: Any) -> None:
    w, lines = watcher
    for version in ("a", "b"):
        save_hello(box, version)
        result = w.run_batch()
        assert result.ok and "image:HelloFunction" in result.tasks, lines
        assert version_of(box) == version  # no polling: once the batch returns, old containers are gone


def test_broken_save_keeps_serving_the_last_good_image(box: Box, watcher: Any) -> None:
    w, lines = watcher
    save_hello(box, "good")
    assert w.run_batch().ok, lines
    before = image_ids(box)
    (box.project / "functions" / "hello" / "app.py").write_text("def handler(event, context:\n    return 1\n")
    assert not w.run_batch().ok
    assert "SyntaxError" in lines[-1]
    assert image_ids(box) == before  # nothing was built
    assert [version_of(box) for _ in range(10)] == ["good"] * 10


def test_containers_starting_during_a_rebuild_never_keep_serving_old_code(box: Box, watcher: Any,
                                                                          docker_client: Any) -> None:
    """Cold starts racing the batch: a container of the old image must not be kept under the new hash."""
    w, lines = watcher
    save_hello(box, "before-race")
    assert w.run_batch().ok, lines
    for container in docker_client.containers.list(filters={"label": f"esb.function={stack(box)}-hello"}):
        try:
            container.remove(force=True)  # every hello sandbox is dead: the next calls cold-start new ones
        except docker.errors.APIError as exc:  # the manager may be removing it already (the rebuilt hash's recall)
            if exc.status_code not in (404, 409):
                raise
    save_hello(box, "after-race")
    with ThreadPoolExecutor(6) as pool:
        racing = [pool.submit(version_of, box) for _ in range(6)]  # starts in flight while the batch runs
        assert w.run_batch().ok, lines
        assert {f.result() for f in racing} <= {"before-race", "after-race"}
    assert eventually(lambda: version_of(box) == "after-race", 10), lines
    with ThreadPoolExecutor(6) as pool:  # several at once: reach every warm container, not only the newest
        assert list(pool.map(lambda _: version_of(box), range(30))) == ["after-race"] * 30
