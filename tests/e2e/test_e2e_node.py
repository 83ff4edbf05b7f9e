"""End to end: a nodejs20.x app (ESM + AWS SDK v3 DynamoDB, CommonJS callback, a layer) through the real box."""

from __future__ import annotations

import json
import math
from typing import Iterator

import pytest

from boxkit import Box, engine_box, eventually, make_watcher
from tools import need_node_build_tools

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def node_toolchain() -> None:
    need_node_build_tools()

TRACE = "Root=1-5f84c7a9-0123456789abcdef01234567;Sampled=1"


@pytest.fixture(scope="module", params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    """The same cases on both engines (docker: the offline Node.js base image, one container per sandbox)."""
    with engine_box("node", request.param, tmp_path_factory.mktemp(f"node-{request.param}")) as running:
        yield running


def test_esm_async_handler_puts_and_gets_an_item_and_an_object_with_sdk_v3(box: Box) -> None:
    put = box.client.put("/items/n1", json={"name": "widget", "count": 3})
    assert put.status_code == 200, put.text
    assert put.json() == {"item": {"id": "n1", "name": "widget", "count": 3}, "greeting": "hello n1 from the layer",
                          "stored": {"name": "widget", "count": 3}}
    got = box.client.get("/items/n1")
    assert got.status_code == 200 and got.json()["item"]["name"] == "widget"
    assert box.client.get("/items/missing").status_code == 404
    table = box.boto3("dynamodb").get_item(TableName="node-items", Key={"id": {"S": "n1"}})
    assert table["Item"]["name"] == {"S": "widget"}
    stored = box.boto3("s3").get_object(Bucket="node-files", Key="items/n1.json")["Body"].read()
    assert json.loads(stored) == {"name": "widget", "count": 3}


def test_commonjs_callback_handler_sees_context_and_trace(box: Box) -> None:
    answer = box.client.get("/context", headers={"X-Amzn-Trace-Id": TRACE})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["functionName"] == "node-context" and data["memoryLimitInMB"] == "256"
    assert data["logGroupName"] == "/aws/lambda/node-context"
    assert 0 < data["remainingMs"] <= 10_000
    assert data["trace"] == TRACE
    assert data["executionEnv"] == f"AWS_Lambda_nodejs{data['node'].split('.')[0]}.x"  # the node that runs it
    assert data["greeting"] == "hello callback from the layer"


def test_invoke_api_runs_the_node_function(box: Box) -> None:
    result = box.boto3("lambda").invoke(FunctionName="node-context", Payload=b"{}", LogType="Tail")
    assert result["StatusCode"] == 200 and "FunctionError" not in result
    body = json.loads(json.loads(result["Payload"].read())["body"])
    assert body["functionName"] == "node-context"


def test_logs_have_the_handler_line_and_a_report(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    from boxkit import esb

    assert box.client.put("/items/logged", json={}).status_code == 200

    def lines() -> list[str]:
        capsys.readouterr()
        assert esb(box.project, "logs", "node-items") == 0
        return capsys.readouterr().out.splitlines()

    found = eventually(lambda: [x for x in lines() if "INFO\tstored logged" in x], 10)
    assert found, "the handler's console.log line is in the log store"
    assert any("REPORT RequestId:" in x for x in lines())


def test_report_figures_are_measured_in_the_node_sandbox(box: Box, capsys: pytest.CaptureFixture[str]) -> None:
    """REPORT as AWS says it, not the RIE's: Init Duration measured (cold call only), Duration without the init,
    Billed Duration rounded up, Max Memory Used the runtime's peak RSS (not Memory Size)."""
    from boxkit import esb

    for _ in range(2):
        assert box.client.get("/context").status_code == 200

    def reports() -> list[dict]:
        capsys.readouterr()
        assert esb(box.project, "logs", "node-context", "--json") == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert not [r for r in records if "ESB-METRICS" in r["message"]]  # the marker is never a record
        return [r for r in records if r.get("event") == "REPORT"]

    def cold_and_warm() -> list[dict] | None:
        found = reports()
        return found if len(found) >= 2 and any(r.get("init_ms") for r in found) else None

    found = eventually(cold_and_warm, 10)
    assert found, "a cold and a warm REPORT of node-context are in the log store"
    cold = next(r for r in found if r.get("init_ms"))
    assert cold["message"].endswith(f"Init Duration: {cold['init_ms']:.2f} ms")
    assert 1 < cold["init_ms"] and cold["duration_ms"] < cold["init_ms"]  # the RIE says ~0.02 ms, and adds it here
    assert any("init_ms" not in r and "Init Duration" not in r["message"] for r in found)  # warm calls
    for report in found:
        assert report["billed_ms"] == max(1, math.ceil(report["duration_ms"]))
        assert 5 <= report["max_memory_mb"] < report["memory_mb"] == 256
        assert f"Max Memory Used: {report['max_memory_mb']} MB" in report["message"]


def test_a_saved_js_file_is_served_never_stale(box: Box) -> None:
    watcher, said = make_watcher(box)
    source = box.project / "src" / "legacy.cjs"
    original = source.read_text()
    try:
        for version in ("v2", "v3"):
            source.write_text(original.replace('greeting: greet("callback")', f'greeting: "{version}"'))
            assert watcher.run_batch().ok, said
            assert box.client.get("/context").json()["greeting"] == version  # first call after the batch
    finally:
        source.write_text(original)
