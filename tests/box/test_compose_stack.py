"""The compose stack: what it cannot serve without embedded stores, and the environment compose interpolates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from esb.box.compose_stack import compose_env, log_owner, missing_services
from esb.model import Application, AwsResource, Event, Function
from esb.paths import P, BuildTree
from esb.project import Images, Project
from esb.render.compose import LOCAL_LOGS, render_compose
from esb.sam.loader import load_application
from esb_runtime.settings import RuntimeSettings


def _app(resources: tuple[AwsResource, ...] = (), events: tuple[Event, ...] = ()) -> Application:
    fn = Function(logical_id="Fn", name="demo-fn", code_uri=Path("/src"), handler="app.handler",
                  runtime="python3.11", events=events)
    return Application(template_path=Path("/p/template.yaml"), stack_name="demo", region="us-east-1",
                       account_id="000000000000", functions=(fn,), resources=resources)


def test_api_only_template_needs_no_warning() -> None:
    assert missing_services(_app(events=(Event("A", "Api", path="/a", method="GET"),))) is None


def test_queues_and_event_sources_are_named_in_one_warning() -> None:
    app = _app(resources=(AwsResource("Q", "AWS::SQS::Queue", "demo-q"), AwsResource("T", "AWS::SNS::Topic", "t")),
               events=(Event("Work", "SQS", source="arn:aws:sqs:us-east-1:000000000000:demo-q"),
                       Event("A", "Api", path="/a", method="GET")))
    warning = missing_services(app)
    assert warning is not None and "\n" not in warning
    assert "AWS::SNS::Topic, AWS::SQS::Queue, SQS events are not available" in warning
    assert "embedded" in warning


def _project(tmp_path: Path) -> Project:
    return Project(project_dir=tmp_path, template=tmp_path / "template.yaml", output=BuildTree(tmp_path / ".esb"),
                   name="p")


def test_up_debug_reaches_the_manager_through_the_interpolated_environment(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_DEBUG", "1")  # the caller's own ESB_* never leak into the stack
    project = _project(tmp_path)
    assert compose_env(project)["ESB_DEBUG"] == "0"
    env = compose_env(project, debug=True)
    assert env["ESB_DEBUG"] == "1" and env["ESB_AWS_ACCESS_KEY_ID"]
    manager = yaml.safe_load(render_compose(load_application(P.sample_template), project))["services"]["manager"]
    # One rendered file for both: compose fills it in at `up`, 0 when nothing is set.
    assert manager["environment"]["ESB_DEBUG"] == "${ESB_DEBUG:-0}"
    assert RuntimeSettings.from_env({"ESB_DEBUG": "1"}).debug


class _Daemon:
    def __init__(self, options: list[str]) -> None:
        self.options = options

    def info(self) -> dict:
        return {"SecurityOptions": self.options}


def test_local_logs_go_to_the_host_tree_owned_by_the_user_who_ran_up(tmp_path: Path) -> None:
    project = replace(_project(tmp_path), images=replace(Images(), logs=LOCAL_LOGS))
    doc = yaml.safe_load(render_compose(load_application(P.sample_template), project))
    assert "logs" not in doc["volumes"]  # no named volume the host cannot read
    for name in ("gateway", "manager"):
        service = doc["services"][name]
        assert "./logs:/opt/esb/out/logs" in service["volumes"]
        assert service["environment"]["ESB_LOG_OWNER"] == "${ESB_LOG_OWNER:-}"
    ids = {"getuid": lambda: 1000, "getgid": lambda: 100}
    assert log_owner(_Daemon(["name=seccomp,profile=builtin"]), **ids) == "1000:100"  # type: ignore[arg-type]
    # Rootless: the containers' root is the user already; a chown would give the files to a subordinate uid.
    assert log_owner(_Daemon(["name=seccomp", "name=rootless"]), **ids) == ""  # type: ignore[arg-type]
    assert compose_env(project, log_owner="1000:100")["ESB_LOG_OWNER"] == "1000:100"


def test_victorialogs_stacks_keep_their_named_logs_volume(tmp_path: Path) -> None:
    doc = yaml.safe_load(render_compose(load_application(P.sample_template), _project(tmp_path)))
    assert "logs" in doc["volumes"] and "logs:/opt/esb/out/logs" in doc["services"]["manager"]["volumes"]
    assert "ESB_LOG_OWNER" not in doc["services"]["manager"]["environment"]
