"""Hostile resource names: AWS's naming rules at load, one error line, and nothing outside `.esb/` touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from esb.cli import main
from esb.errors import BuildError
from esb.paths import BuildTree
from esb.sam.names import name_problem

HANDLER = "def handler(event, context):\n    return {}\n"


def project(root: Path, prop: str, name: str) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app.py").write_text(HANDLER)
    resource = {"FunctionName": ("AWS::Serverless::Function", ""), "TableName": ("AWS::DynamoDB::Table", ""),
                "BucketName": ("AWS::S3::Bucket", ""), "LayerName": ("AWS::Serverless::LayerVersion", "")}[prop][0]
    extra = {
        "AWS::Serverless::Function": "      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n",
        "AWS::DynamoDB::Table": ("      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
                                 "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"),
        "AWS::S3::Bucket": "",
        "AWS::Serverless::LayerVersion": "      ContentUri: src/\n",
    }[resource]
    fn = ("  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n"
          "      Handler: app.handler\n      Runtime: python3.11\n")
    body = f"  Hostile:\n    Type: {resource}\n    Properties:\n      {prop}: {name!r}\n{extra}"
    path = root / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + body + ("" if prop == "FunctionName" else fn))
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` outside `.esb/` with its size and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".esb"]
        for name in [*dirnames, *filenames]:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.mark.parametrize("prop,name", [
    ("FunctionName", "../.."), ("FunctionName", "/abs"), ("FunctionName", ".."), ("FunctionName", "a/b"),
    ("FunctionName", "x" * 65), ("LayerName", "../lib"), ("TableName", ".."), ("TableName", "ab"),
    ("TableName", "a/../b"), ("BucketName", "../data"), ("BucketName", "Upper"), ("BucketName", "a..b"),
    ("BucketName", "192.168.1.1"), ("BucketName", "xn--bucket"), ("BucketName", "ab"),
])
def test_hostile_names_fail_the_build_in_one_line_and_touch_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], prop: str, name: str) -> None:
    template = project(tmp_path / "app", prop, name)
    before = snapshot(tmp_path)
    code = main(["-t", str(template), "build"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: ") and prop in lines[0], err
    assert "Resources.Hostile" in lines[0] or "Hostile" in lines[0]
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("prop,name", [
    ("FunctionName", "my-fn_1"), ("FunctionName", "f" * 64), ("LayerName", "shared-lib"),
    ("TableName", "Orders.v2-x_y"), ("BucketName", "my.bucket-01"), ("BucketName", "abc"),
])
def test_names_aws_accepts_pass(prop: str, name: str) -> None:
    assert name_problem(prop, name) is None


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/abs", "a\\b", "a\0b"])
def test_the_output_tree_refuses_a_name_that_leaves_it(tmp_path: Path, name: str) -> None:
    with pytest.raises(BuildError):
        BuildTree(tmp_path / ".esb").function(name)
