"""The compose stack without embedded stores names, once, what of the template it cannot serve."""

from __future__ import annotations

from pathlib import Path

from esb.box.compose_stack import missing_services
from esb.model import Application, AwsResource, Event, Function


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
