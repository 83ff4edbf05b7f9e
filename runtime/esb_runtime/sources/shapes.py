"""Lambda event payloads shaped as AWS sends them: SQS, SNS, S3, EventBridge, DynamoDB Streams, Kinesis."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import quote_plus, unquote_plus

_SNS_CERT = "https://sns.{region}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"


def _sqs_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's MessageAttributeValue → the event's lower-camel form (with the empty list fields)."""
    shaped: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        raw = value["BinaryValue"]
        shaped["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
    return shaped


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event from one ReceiveMessage message."""
    # Imported by a delivery, not with the manager: hashlib maps OpenSSL's libcrypto (~3.7 MB), which a manager
    # without event sources never needs (issue 14); the pollers' boto3 loads it anyway.
    import hashlib

    attributes = dict(message.get("Attributes") or {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {name: _sqs_attribute(value)
                              for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message.get("Body", "").encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sns_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The SNS event Lambda gets, from the notification envelope SNS put into the delivery queue."""
    topic = str(envelope.get("TopicArn", ""))
    region = topic.split(":")[3] if topic.count(":") >= 5 else "us-east-1"
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope.get("MessageId"),
            "TopicArn": topic,
            "Subject": envelope.get("Subject"),
            "Message": envelope.get("Message", ""),
            "Timestamp": envelope.get("Timestamp"),
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL") or _SNS_CERT.format(region=region),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL")
            or f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
            "MessageAttributes": envelope.get("MessageAttributes") or {},
        },
    }]}


def s3_event(notification: dict[str, Any], account: str) -> dict[str, Any] | None:
    """The S3 event Lambda gets (the fields S3 sends that moto leaves out filled in); None for a test event."""
    if "Records" not in notification:
        return None  # s3:TestEvent, sent when a configuration is set: Lambda never sees it
    import hashlib  # see sqs_record

    records = []
    for record in notification["Records"]:
        s3 = dict(record.get("s3") or {})
        bucket = {"ownerIdentity": {"principalId": account}, **(s3.get("bucket") or {})}
        obj = dict(s3.get("object") or {})
        if "key" in obj:  # S3 sends the key form-encoded with "/" kept (moto also encodes "/")
            obj["key"] = quote_plus(unquote_plus(str(obj["key"])), safe="/")
        obj.setdefault("sequencer", format(int(dt.datetime.now(dt.timezone.utc).timestamp() * 1e6), "X"))
        records.append({
            "eventVersion": record.get("eventVersion", "2.1"),
            "eventSource": "aws:s3",
            "awsRegion": record.get("awsRegion"),
            "eventTime": record.get("eventTime"),
            "eventName": record.get("eventName"),
            "userIdentity": record.get("userIdentity") or {"principalId": f"AWS:{account}"},
            "requestParameters": record.get("requestParameters") or {"sourceIPAddress": "127.0.0.1"},
            "responseElements": record.get("responseElements")
            or {"x-amz-request-id": hashlib.sha1(str(obj).encode()).hexdigest()[:16].upper(),
                "x-amz-id-2": base64.b64encode(hashlib.sha256(str(obj).encode()).digest()).decode()},
            "s3": {**s3, "s3SchemaVersion": s3.get("s3SchemaVersion", "1.0"), "bucket": bucket, "object": obj},
        })
    return {"Records": records}


def eventbridge_event(event: dict[str, Any], account: str) -> dict[str, Any]:
    """The event a rule hands its target, in EventBridge's key order, with the account moto leaves out."""
    order = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
    full = {"version": "0", "account": account, "resources": [], "detail": {}, **event}
    return {key: full[key] for key in order if key in full} | {k: v for k, v in full.items() if k not in order}


def _epoch_s(value: Any) -> float | int:
    if isinstance(value, dt.datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else round(seconds, 3)
    return value


def dynamodb_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams record as Lambda gets it: with eventSourceARN, times in epoch seconds."""
    data = dict(record.get("dynamodb") or {})
    if "ApproximateCreationDateTime" in data:
        data["ApproximateCreationDateTime"] = _epoch_s(data["ApproximateCreationDateTime"])
    shaped = {k: v for k, v in record.items() if k != "dynamodb"}
    shaped["dynamodb"] = data
    shaped["eventSourceARN"] = stream_arn
    return shaped


def kinesis_record(record: dict[str, Any], stream_arn: str, shard_id: str, region: str,
                   role_arn: str) -> dict[str, Any]:
    """A Kinesis record as Lambda gets it: data base64-encoded, arrival time in epoch seconds."""
    data = record["Data"]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode(),
            "approximateArrivalTimestamp": _epoch_s(record.get("ApproximateArrivalTimestamp")),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }
