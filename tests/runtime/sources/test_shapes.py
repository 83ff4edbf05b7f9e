"""Golden tests: each source's event, built from what the box's stores answer, has the shape of AWS's sample."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from esb_runtime.sources import shapes

SAMPLES = json.loads((Path(__file__).parent / "aws_sample_events.json").read_text())


def shape_of(value: Any) -> Any:
    """Keys and value types, recursively: what a handler relies on, without the sample's values."""
    if isinstance(value, dict):
        return {key: shape_of(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape_of(value[0])] if value else []
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def test_sqs_record() -> None:
    message = {"MessageId": "m-1", "ReceiptHandle": "rh", "Body": "hi", "MD5OfBody": "49f68a5c8493ec2c0bf489821c21fc3b",
               "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "AID",
                              "ApproximateFirstReceiveTimestamp": "2"},
               "MessageAttributes": {"myAttribute": {"DataType": "String", "StringValue": "v"}}}
    got = shapes.sqs_record(message, "arn:aws:sqs:us-east-2:123456789012:my-queue", "us-east-2")
    assert shape_of(got) == shape_of(SAMPLES["sqs"])
    assert got["messageAttributes"]["myAttribute"]["stringValue"] == "v"


def test_sns_event() -> None:
    envelope = {"Type": "Notification", "MessageId": "id", "TopicArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda",
                "Subject": "TestInvoke", "Message": "Hello", "Timestamp": "2019-01-02T12:45:07.000Z",
                "SignatureVersion": "1", "Signature": "sig", "SigningCertURL": "https://cert",
                "UnsubscribeURL": "https://unsub", "MessageAttributes": {"Test": {"Type": "String", "Value": "x"}}}
    got = shapes.sns_event(envelope, "arn:aws:sns:us-east-1:123456789012:sns-lambda:sub")
    assert shape_of(got) == shape_of(SAMPLES["sns"])
    assert got["Records"][0]["Sns"]["SigningCertUrl"] == "https://cert"  # renamed as Lambda spells it


def test_s3_event_fills_what_moto_leaves_out_and_encodes_the_key_as_s3_does() -> None:
    moto = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                         "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
                         "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                                "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                                "object": {"key": "in%2Fmy+file.csv", "size": 3, "eTag": "e"}}}]}
    got = shapes.s3_event(moto, "000000000000")
    sample = SAMPLES["s3"]
    assert shape_of(got) == shape_of(sample)
    assert got["Records"][0]["s3"]["object"]["key"] == "in/my+file.csv"
    assert shapes.s3_event({"Service": "Amazon S3", "Event": "s3:TestEvent"}, "0") is None


def test_eventbridge_event() -> None:
    moto = {"id": "i", "time": "2026-01-01T00:00:00Z", "version": "0", "detail-type": "t", "source": "s",
            "region": "us-east-2", "resources": ["r"], "detail": {"EventCategories": ["backup"]}}
    got = shapes.eventbridge_event(moto, "123456789012")
    assert shape_of(got) == shape_of(SAMPLES["eventbridge"])
    assert list(got) == list(SAMPLES["eventbridge"])  # EventBridge's key order


def test_dynamodb_record() -> None:
    boto = {"eventID": "1", "eventName": "MODIFY", "eventVersion": "1.0", "eventSource": "aws:dynamodb",
            "awsRegion": "us-west-2",
            "dynamodb": {"ApproximateCreationDateTime": dt.datetime(2016, 11, 18, 20, 9, tzinfo=dt.timezone.utc),
                         "Keys": {"Id": {"N": "101"}}, "NewImage": {"Message": {"S": "n"}, "Id": {"N": "101"}},
                         "OldImage": {"Message": {"S": "o"}, "Id": {"N": "101"}}, "SequenceNumber": "111",
                         "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    got = shapes.dynamodb_record(boto, "arn:aws:dynamodb:us-west-2:111122223333:table/TestTable/stream/x")
    assert shape_of(got) == shape_of(SAMPLES["dynamodb"])
    assert got["dynamodb"]["ApproximateCreationDateTime"] == 1479499740


@pytest.mark.parametrize("data", [b"Hello, this is a test.", b"\x00\xff binary"])
def test_kinesis_record(data: bytes) -> None:
    boto = {"SequenceNumber": "4959", "PartitionKey": "1", "Data": data,
            "ApproximateArrivalTimestamp": dt.datetime(2020, 12, 9, 7, 4, 35, tzinfo=dt.timezone.utc)}
    got = shapes.kinesis_record(boto, "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
                                "shardId-000000000006", "us-east-2", "arn:aws:iam::123456789012:role/r")
    assert shape_of(got) == shape_of(SAMPLES["kinesis"])
    assert base64.b64decode(got["kinesis"]["data"]) == data
    assert got["eventID"] == "shardId-000000000006:4959"
