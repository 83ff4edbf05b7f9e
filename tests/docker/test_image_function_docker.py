"""Container-image functions (their own Dockerfiles FROM public.ecr.aws/lambda/python:3.11 and nodejs:20) on
the docker engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boxkit import copy_app, docker_answers, make_watcher, remove_images, running_box
from tools import need_node_build_tools, need_tool

pytestmark = [pytest.mark.docker, pytest.mark.integration]

TRACE = "Root=1-5f84c7a9-0123456789abcdef01234567;Sampled=1"


def _tag(project: Path) -> str:
    return json.loads((project / ".esb" / "functions" / "image-files" / "image.json").read_text())["tag"]


def test_image_function_builds_offline_and_answers_through_the_gateway(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need_tool(docker_answers(), "no Docker daemon answers here (start one with .ci/docker-setup.sh)")
    need_node_build_tools()
    project = copy_app("image", tmp_path)
    try:
        with running_box(project, engine="docker") as box:
            built = capsys.readouterr().out
            assert "public.ecr.aws/lambda/python:3.11 is served by the box's offline base image" in built
            assert "public.ecr.aws/lambda/nodejs:20 is served by the box's offline base image" in built
            node = box.client.get("/node")
            assert node.status_code == 200 and node.json() == {"sdk": "function", "executionEnv": "AWS_Lambda_nodejs20.x"}
            put = box.client.put("/files/a.txt", content=b"hello image", headers={"X-Amzn-Trace-Id": TRACE})
            assert put.status_code == 200, put.text
            body = put.json()
            # ImageConfig.Command replaced the Dockerfile's CMD; ENV and WORKDIR come from the image.
            assert body["handler"] == "handler" and body["object"] == "hello image"
            assert body["greeting"] == "from-the-image" and body["cwd"] == "/var/task"
            assert body["trace"] == TRACE and body["function"] == "image-files"
            assert box.boto3("s3").get_object(Bucket="image-files", Key="a.txt")["Body"].read() == b"hello image"
            invoked = box.boto3("lambda").invoke(
                FunctionName="image-files", Payload=json.dumps({"httpMethod": "GET", "pathParameters": {"key": "a.txt"}}))
            assert json.loads(json.loads(invoked["Payload"].read())["body"])["object"] == "hello image"

            first = _tag(project)
            watcher, said = make_watcher(box)
            assert watcher.run_batch().ok, said  # nothing changed: the same image
            assert _tag(project) == first
            source = project / "app" / "app.py"
            source.write_text(source.read_text().replace('"handler": "handler"', '"handler": "edited"'))
            assert watcher.run_batch().ok, said
            assert _tag(project) != first  # only a changed context rebuilds
            assert box.client.get("/files/a.txt").json()["handler"] == "edited"
    finally:
        remove_images(project.name)
