"""The emulated services' resources and the store event sources, as the SAM loader resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from esb.errors import TemplateError
from esb.paths import P
from esb.sam import load_application

EVENTS = P.fixtures / "events" / "template.yaml"


def test_ref_and_getatt_give_what_aws_gives() -> None:
    app = load_application(EVENTS)
    env = app.function("ProbeFunction").env
    assert env["JOBS_URL"] == "https://sqs.us-east-1.amazonaws.com/000000000000/events-jobs"
    assert env["TOPIC_ARN"] == "arn:aws:sns:us-east-1:000000000000:events-news"
    assert env["PARAMETER"] == "/events/mode"
    assert env["SECRET_ARN"] == "arn:aws:secretsmanager:us-east-1:000000000000:secret:events-api-key"
    jobs = {r.logical_id: r for r in app.resources}["JobsQueue"]
    assert jobs.props["RedrivePolicy"] == {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:events-jobs-dlq",
                                           "maxReceiveCount": 2}
    kinds = {ev.kind: ev.source for fn in app.functions for ev in fn.events}
    assert kinds["Kinesis"] == "arn:aws:kinesis:us-east-1:000000000000:stream/events-clicks"
    assert kinds["S3"] == "events-uploads" and kinds["EventBridgeRule"] == "default"
    assert app.warnings == ()


def _load(tmp_path: Path, body: str):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "template.yaml").write_text("Resources:\n" + body)
    return load_application(tmp_path / "template.yaml", stack_name="shop")


def test_generated_names_and_attributes(tmp_path: Path) -> None:
    app = _load(tmp_path, """
  Jobs: {Type: AWS::SQS::Queue, Properties: {FifoQueue: true}}
  Bus: {Type: AWS::Events::EventBus, Properties: {Name: orders}}
  Rule: {Type: AWS::Events::Rule, Properties: {EventBusName: !Ref Bus, EventPattern: {source: [a]}}}
  Param: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: v1}}
  Logs: {Type: AWS::Logs::LogGroup}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.h
      Runtime: python3.12
      Environment:
        Variables:
          Q: !GetAtt Jobs.QueueName
          R: !GetAtt Rule.Arn
          V: !GetAtt Param.Value
          L: !GetAtt Logs.Arn
""")
    assert app.function("Fn").env == {
        "Q": "shop-Jobs.fifo", "R": "arn:aws:events:us-east-1:000000000000:rule/orders/shop-Rule", "V": "v1",
        "L": "arn:aws:logs:us-east-1:000000000000:log-group:shop-Logs:*"}
    assert [r.name for r in app.resources] == ["orders", "shop-Jobs.fifo", "shop-Logs", "CFN-Param", "shop-Rule"]


def test_bad_source_events_are_clear_errors(tmp_path: Path) -> None:
    fn = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.h
      Runtime: python3.12
      Events:
        E: {Type: %s, Properties: %s}
"""
    with pytest.raises(TemplateError, match="Kinesis event needs StartingPosition"):
        _load(tmp_path, fn % ("Kinesis", "{Stream: arn:aws:kinesis:us-east-1:1:stream/s}"))
    with pytest.raises(TemplateError, match="SQS event needs Queue"):
        _load(tmp_path, fn % ("SQS", "{BatchSize: 1}"))
    app = _load(tmp_path, fn % ("SQS", "{Queue: arn:aws:sqs:us-east-1:1:q, FilterCriteria: {}}"))
    assert [str(w) for w in app.warnings] == ["Fn.Events.E.FilterCriteria: not supported, ignored"]
