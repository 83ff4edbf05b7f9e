"""`esb up -d --engine docker` end to end: the sample app (plus a probe function) with container sandboxes."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from esb.box import state as boxstate
from esb.box import processes as supervisor
from esb.paths import P, BuildTree

from boxkit import esb, free_ports_env
from boxkit import read_status as status_json
from boxkit import remove_images as remove_project_images

pytestmark = pytest.mark.docker

PROBE_CODE = '''"""Reports what the sandbox sees: its container, its boot id, the env, paths and the gateway."""
import json, os, socket, time, uuid

BOOT = uuid.uuid4().hex  # new on every cold start


def handler(event, context):
    q = event.get("queryStringParameters") or {}
    start = time.time()
    time.sleep(float(q.get("sleep", "0")))
    out = {"boot": BOOT, "host": socket.gethostname(), "start": start, "end": time.time(),
           "esb_env": sorted(k for k in os.environ if k.startswith("ESB_")),
           "paths": {p: os.path.exists(p) for p in q.get("paths", "").split(",") if p}, "version": 1,
           "ca": os.environ.get("AWS_CA_BUNDLE")}
    if q.get("invoke"):
        import boto3
        client = boto3.client("lambda", verify=os.environ.get("AWS_CA_BUNDLE") or False)
        answer = client.invoke(FunctionName=q["invoke"], Payload=b"{}")
        out["invoked"] = json.loads(answer["Payload"].read())
    return {"statusCode": 200, "body": json.dumps(out)}
'''

PROBE_RESOURCE = '''
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-probe"
      CodeUri: functions/probe/
      Timeout: 15
      Events:
        Probe:
          Type: Api
          Properties:
            Path: /probe
            Method: get
            Auth:
              Authorizer: NONE
'''


def project_containers(project: str, function: str | None = None, all: bool = False) -> list[Any]:
    import docker

    labels = [f"esb.project={project}"] + ([f"esb.function={function}"] if function else [])
    client = docker.from_env()
    try:
        return client.containers.list(all=all, filters={"label": labels})
    finally:
        client.close()


@dataclass
class BoxHandle:
    project: Path
    name: str  # stack name = project label of the containers
    status: dict[str, Any]
    client: httpx.Client

    @property
    def tree(self) -> BuildTree:
        return BuildTree(self.project / ".esb")

    def context(self) -> Any:
        from esb.project import load_project
        from esb.build.context import build_context

        return build_context(load_project(str(self.project / "template.yaml"), cwd=self.project, env={}))

    def token(self) -> str:
        auth = self.status["auth"]
        answer = self.client.post(auth["auth_path"], headers={"x-api-key": auth["api_key"]},
                                  json={"AuthParameters": {"USERNAME": auth["username"], "PASSWORD": auth["password"]}})
        answer.raise_for_status()
        return answer.json()["AuthenticationResult"]["IdToken"]

    def boto3(self, service: str) -> Any:
        import boto3

        aws = self.status["aws"]
        return boto3.client(service, endpoint_url=self.status["stores"][f"{service}_endpoint"],
                            region_name=aws["region"], aws_access_key_id=aws["access_key_id"],
                            aws_secret_access_key=aws["secret_access_key"])


@contextlib.contextmanager
def start_box(fixture: str, dest: Path, prepare: Callable[[Path], None] | None = None) -> Iterator[BoxHandle]:
    """A copy of fixtures/<fixture> under a unique name (its stack name), `esb up -d --engine docker`
    on a free gateway port, and `esb down` afterwards whatever happened."""
    name = f"dbox{uuid.uuid4().hex[:8]}"
    project = dest / name
    shutil.copytree(P.fixtures / fixture, project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    if prepare is not None:
        prepare(project)
    code = esb(project, "up", "-d", "--engine", "docker", env=free_ports_env())
    try:
        assert code == 0, "esb up --engine docker failed"
        status = status_json(project)
        verify = ssl.create_default_context(cafile=status["gateway"]["ca_file"])
        with httpx.Client(base_url=status["gateway"]["url"], verify=verify, timeout=60.0) as client:
            yield BoxHandle(project=project, name=name, status=status, client=client)
    finally:
        esb(project, "down")
        remove_project_images(name)


@pytest.fixture(scope="module")
def dbox(docker_daemon: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoxHandle]:
    def add_probe(project: Path) -> None:
        (project / "functions" / "probe").mkdir()
        (project / "functions" / "probe" / "app.py").write_text(PROBE_CODE)
        with (project / "template.yaml").open("a") as fh:
            fh.write(PROBE_RESOURCE)

    with start_box("sample", tmp_path_factory.mktemp("dbox"), prepare=add_probe) as handle:
        yield handle


def probe(box: BoxHandle, **params: str) -> dict[str, Any]:
    answer = box.client.get("/probe", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_up_runs_the_docker_engine_and_hello_answers_over_https(dbox: BoxHandle) -> None:
    assert dbox.status["engine"] == "docker"
    answer = dbox.client.get("/hello", params={"name": "docker"})
    assert answer.status_code == 200 and answer.json() == {"message": "hello, docker"}
    functions = {c.labels["esb.function"] for c in project_containers(dbox.name)}
    assert f"{dbox.name}-hello" in functions


def test_authed_route_needs_a_jwt_and_runs_in_a_container(dbox: BoxHandle) -> None:
    assert dbox.client.get("/whoami").status_code == 401
    answer = dbox.client.get("/whoami", headers={"Authorization": f"Bearer {dbox.token()}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["function"] == f"{dbox.name}-whoami"


def test_function_uses_the_table_and_bucket_through_the_bridge(dbox: BoxHandle) -> None:
    headers = {"Authorization": f"Bearer {dbox.token()}"}
    put = dbox.client.put("/items/k1", json={"color": "blue"}, headers=headers)
    assert put.status_code == 201, put.text
    listed = dbox.client.get("/items", headers=headers).json()["items"]
    assert {"id": "k1", "color": "blue"} in listed
    s3 = dbox.boto3("s3")
    body = s3.get_object(Bucket=f"{dbox.name}-files", Key="items/k1.json")["Body"].read()
    assert json.loads(body) == {"id": "k1", "color": "blue"}


def test_sandbox_reaches_invoke_api_but_not_the_manager(dbox: BoxHandle) -> None:
    sock = str(dbox.project / ".esb" / "state" / "manager.sock")
    seen = probe(dbox, invoke=f"{dbox.name}-hello", paths=f"{sock},{dbox.project}")
    assert seen["ca"] == "/etc/esb/ca.pem"  # the box CA, mounted read-only: TLS is verified, not skipped
    assert seen["invoked"]["statusCode"] == 200  # boto3 lambda.invoke from the container, SigV4 + TLS
    assert seen["paths"] == {sock: False, str(dbox.project): False}
    assert seen["esb_env"] == []


def test_concurrent_requests_use_several_containers_one_invocation_each(dbox: BoxHandle) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: probe(dbox, sleep="1"), range(8)))
    by_host: dict[str, list[tuple[float, float]]] = {}
    for seen in results:
        by_host.setdefault(seen["host"], []).append((seen["start"], seen["end"]))
    assert len(by_host) >= 2
    for spans in by_host.values():
        spans.sort()
        assert all(prev_end <= start for (_, prev_end), (start, _) in zip(spans, spans[1:])), spans
    ids = {c.id[:12] for c in project_containers(dbox.name, function=f"{dbox.name}-probe")}
    assert set(by_host) <= ids


def test_killed_container_gives_a_5xx_then_is_replaced(dbox: BoxHandle) -> None:
    probe(dbox)  # at least one warm container
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(dbox.client.get, "/probe", params={"sleep": "4"})
        victims = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not victims:
            time.sleep(0.5)
            victims = project_containers(dbox.name, function=f"{dbox.name}-probe")
        for container in victims:
            container.kill()
        failed = pending.result(timeout=30)
    assert 500 <= failed.status_code < 600
    assert "message" in failed.json()
    later = probe(dbox)
    assert later["host"] not in {c.id[:12] for c in victims}
    assert probe(dbox)["host"] not in {c.id[:12] for c in victims}


def _restart_manager(box: BoxHandle, between: Any = None) -> None:
    """SIGKILL the manager (a crash: its containers stay) and let the box's supervisor start a new one;
    with `between`, the supervisor is paused so that `between` happens while no manager runs."""
    state = boxstate.read(box.tree.state)
    assert state is not None and state.supervisor is not None
    old = next(p for p in state.procs if p.name == "manager")
    if between is not None:
        os.kill(state.supervisor.pid, signal.SIGSTOP)
    try:
        os.killpg(old.pid, signal.SIGKILL)
        assert supervisor.wait_until(lambda: not old.alive(), 10, interval_s=0.05)
        if between is not None:
            between()
    finally:
        if between is not None:
            os.kill(state.supervisor.pid, signal.SIGCONT)

    def restarted() -> bool:
        now = boxstate.read(box.tree.state)
        manager = next((p for p in now.procs if p.name == "manager"), None) if now is not None else None
        return manager is not None and manager.pid != old.pid and manager.alive()

    def healthy() -> bool:
        try:
            return box.client.get("/health").json()["manager"].get("status") == "ok"
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    assert supervisor.wait_until(restarted, 30, interval_s=0.1), "the supervisor did not restart the manager"
    assert supervisor.wait_until(healthy, 30, interval_s=0.1), supervisor.tail(box.tree.logs / "manager.out")


def test_manager_restart_adopts_warm_containers_but_not_rebuilt_ones(dbox: BoxHandle) -> None:
    fn = f"{dbox.name}-probe"
    first = probe(dbox)
    before = {c.id for c in project_containers(dbox.name, function=fn)}
    _restart_manager(dbox)
    again = probe(dbox)
    assert {c.id for c in project_containers(dbox.name, function=fn)} == before  # nothing new started
    assert again["host"] in {cid[:12] for cid in before}
    assert again["boot"] != "" and again["version"] == first["version"] == 1

    def rebuild() -> None:
        code = dbox.project / "functions" / "probe" / "app.py"
        code.write_text(code.read_text().replace('"version": 1', '"version": 2'))
        assert esb(dbox.project, "build") == 0
        from esb.box import docker_box

        docker_box.build_images(dbox.context(), say=lambda _: None)

    _restart_manager(dbox, between=rebuild)
    rebuilt = probe(dbox)
    assert rebuilt["version"] == 2
    assert rebuilt["host"] not in {cid[:12] for cid in before}
    assert not before & {c.id for c in project_containers(dbox.name, function=fn, all=True)}


def test_down_leaves_no_container_and_no_network(dbox: BoxHandle, docker_client: Any) -> None:
    assert project_containers(dbox.name)
    dbox.client.close()  # an idle keep-alive connection would hold the gateway's graceful stop (10 s)
    assert esb(dbox.project, "down") == 0
    assert project_containers(dbox.name, all=True) == []
    assert not [n for n in docker_client.networks.list() if n.name == f"esb-{dbox.name}"]
    assert boxstate.read(dbox.tree.state) is None

