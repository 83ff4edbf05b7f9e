"""`esb generate-event`: AWS's documented sample events (as `sam local generate-event` prints them), with options."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, quote_plus

from esb.errors import ConfigError

Values = Mapping[str, str]
# The fixed moment AWS's samples use; a generated event is reproducible, byte for byte.
SAMPLE_TIME = dt.datetime(2015, 4, 9, 12, 34, 56, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Option:
    name: str  # the flag without dashes (`--bucket`); the builder reads it under this name
    default: str
    help: str


@dataclass(frozen=True)
class SampleEvent:
    service: str
    event: str
    help: str
    options: tuple[Option, ...]
    build: Callable[[Values], dict[str, Any]]


COMMON = (Option("region", "us-east-1", "the event's AWS region"),
          Option("account-id", "123456789012", "the event's AWS account id"))


def _http_options(method: str, path: str, body: str) -> tuple[Option, ...]:
    return (
        Option("method", method, "HTTP method"),
        Option("path", path, "request path"),
        Option("body", body, "request body (text)"),
        Option("query", "", "query string, e.g. a=1&b=2"),
        Option("stage", "", "stage name"),
        Option("base64", "false", "true: body is sent base64-encoded (isBase64Encoded)"),
    )


def _body(values: Values) -> tuple[str | None, bool]:
    if values["body"] == "":
        return None, False
    if values["base64"].lower() == "true":
        return base64.b64encode(values["body"].encode()).decode(), True
    return values["body"], False


def _request_time(when: dt.datetime) -> tuple[str, int]:
    return when.strftime("%d/%b/%Y:%H:%M:%S +0000"), int(when.timestamp() * 1000)


def apigateway_aws_proxy(values: Values) -> dict[str, Any]:
    """REST API Lambda proxy event (payload 1.0)."""
    stage, path, method = values["stage"] or "prod", values["path"], values["method"].upper()
    query = parse_qsl(values["query"], keep_blank_values=True)
    headers = {"Accept": "*/*", "Content-Type": "application/json",
               "Host": "1234567890.execute-api.{}.amazonaws.com".format(values["region"]),
               "User-Agent": "Custom User Agent String", "X-Forwarded-For": "127.0.0.1",
               "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"}
    body, is_b64 = _body(values)
    request_time, epoch = _request_time(SAMPLE_TIME)
    return {
        "body": body,
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "isBase64Encoded": is_b64,
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": _multi(query) or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": {
            "accountId": values["account-id"], "resourceId": "123456", "stage": stage,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "requestTime": request_time,
            "requestTimeEpoch": epoch,
            "identity": {"cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                         "accessKey": None, "sourceIp": "127.0.0.1", "cognitoAuthenticationType": None,
                         "cognitoAuthenticationProvider": None, "userArn": None,
                         "userAgent": "Custom User Agent String", "user": None},
            "path": f"/{stage}{path}", "resourcePath": "/{proxy+}", "httpMethod": method,
            "apiId": "1234567890", "protocol": "HTTP/1.1",
        },
    }


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def apigateway_http_api(values: Values) -> dict[str, Any]:
    """HTTP API Lambda proxy event (payload 2.0)."""
    stage, path, method = values["stage"] or "$default", values["path"], values["method"].upper()
    query = parse_qsl(values["query"], keep_blank_values=True)
    body, is_b64 = _body(values)
    request_time, epoch = _request_time(SAMPLE_TIME)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": values["query"],
        "headers": {"accept": "*/*", "content-type": "application/json", "host": "id.execute-api.{}.amazonaws.com"
                    .format(values["region"]), "user-agent": "agent", "x-forwarded-for": "192.0.2.1",
                    "x-forwarded-port": "443", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": values["account-id"], "apiId": "id",
            "domainName": "id.execute-api.{}.amazonaws.com".format(values["region"]), "domainPrefix": "id",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
                     "userAgent": "agent"},
            "requestId": "id", "routeKey": "$default", "stage": stage, "time": request_time, "timeEpoch": epoch,
        },
        "isBase64Encoded": is_b64,
    }
    if query:  # HTTP APIs join repeated parameters with commas and leave absent fields out
        event["queryStringParameters"] = {k: ",".join(v) for k, v in _multi(query).items()}
    if body is not None:
        event["body"] = body
    return event


def s3_put(values: Values) -> dict[str, Any]:
    """S3 ObjectCreated:Put notification; the key is URL-encoded as S3 sends it."""
    bucket = values["bucket"]
    return {"Records": [{
        "eventVersion": "2.0", "eventSource": "aws:s3", "awsRegion": values["region"],
        "eventTime": "1970-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789",
                             "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH"},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(values["key"], safe="/"), "size": _int(values, "size"),
                       "eTag": values["etag"], "sequencer": "0A1B2C3D4E5F678901"},
        },
    }]}


def _int(values: Values, name: str) -> int:
    try:
        return int(values[name])
    except ValueError as exc:
        raise ConfigError(f"--{name} {values[name]!r} is not a whole number") from exc


def sqs_receive_message(values: Values) -> dict[str, Any]:
    """SQS messages as the event source mapping hands them to a function."""
    body = values["body"]
    return {"Records": [{
        "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78", "receiptHandle": "MessageReceiptHandle",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1523232000000",
                       "SenderId": values["account-id"], "ApproximateFirstReceiveTimestamp": "1523232000001"},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum, not security
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{values['region']}:{values['account-id']}:{values['queue']}",
        "awsRegion": values["region"],
    }]}


def dynamodb_update(values: Values) -> dict[str, Any]:
    """A stream batch of INSERT, MODIFY and REMOVE of one item (NEW_AND_OLD_IMAGES)."""
    keys = {"Id": {"N": "101"}}
    first = {"Message": {"S": "New item!"}, "Id": {"N": "101"}}
    changed = {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}}
    arn = (f"arn:aws:dynamodb:{values['region']}:{values['account-id']}:table/{values['table']}"
           "/stream/2015-06-27T00:48:05.899")
    records = []
    for number, (name, images, size) in enumerate((("INSERT", {"NewImage": first}, 26),
                                                    ("MODIFY", {"OldImage": first, "NewImage": changed}, 59),
                                                    ("REMOVE", {"OldImage": changed}, 38)), start=1):
        records.append({
            "eventID": str(number), "eventVersion": "1.0",
            "dynamodb": {"Keys": keys, **images, "StreamViewType": "NEW_AND_OLD_IMAGES",
                         "SequenceNumber": str(111 * number), "SizeBytes": size},
            "awsRegion": values["region"], "eventName": name, "eventSourceARN": arn, "eventSource": "aws:dynamodb",
        })
    return {"Records": records}


def eventbridge_scheduled(values: Values) -> dict[str, Any]:
    """The EventBridge (CloudWatch Events) Scheduled Event, the same shape the box's scheduler sends."""
    from esb_runtime.manager.scheduler import scheduled_event

    rule = f"arn:aws:events:{values['region']}:{values['account-id']}:rule/{values['rule']}"
    return scheduled_event(event_id="cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
                           when=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc),
                           account=values["account-id"], region=values["region"], rule_arn=rule)


SAMPLES: tuple[SampleEvent, ...] = (
    SampleEvent("apigateway", "aws-proxy", "REST API proxy event (payload 1.0)",
                _http_options("POST", "/path/to/resource", '{"test": "body"}'), apigateway_aws_proxy),
    SampleEvent("apigateway", "http-api", "HTTP API proxy event (payload 2.0)",
                _http_options("POST", "/my/path", "Hello from Lambda"), apigateway_http_api),
    SampleEvent("s3", "put", "S3 ObjectCreated:Put notification",
                (Option("bucket", "example-bucket", "bucket name"), Option("key", "test/key", "object key"),
                 Option("size", "1024", "object size in bytes"),
                 Option("etag", "0123456789abcdef0123456789abcdef", "object ETag")), s3_put),
    SampleEvent("sqs", "receive-message", "SQS messages delivered to a function",
                (Option("body", "Hello from SQS!", "message body"), Option("queue", "MyQueue", "queue name")),
                sqs_receive_message),
    SampleEvent("dynamodb", "update", "DynamoDB stream records (INSERT, MODIFY, REMOVE)",
                (Option("table", "ExampleTableWithStream", "table name"),), dynamodb_update),
    SampleEvent("eventbridge", "scheduled-event", "EventBridge scheduled event",
                (Option("rule", "ExampleRule", "rule name"),), eventbridge_scheduled),
    # SAM names the same event under cloudwatch.
    SampleEvent("cloudwatch", "scheduled-event", "EventBridge (CloudWatch Events) scheduled event",
                (Option("rule", "ExampleRule", "rule name"),), eventbridge_scheduled),
)


def find(service: str, event: str) -> SampleEvent:
    for sample in SAMPLES:
        if (sample.service, sample.event) == (service, event):
            return sample
    known = ", ".join(f"{s.service} {s.event}" for s in SAMPLES)
    raise ConfigError(f"no sample event {service} {event}", hint=f"known: {known}")


def generate(service: str, event: str, values: Mapping[str, str] | None = None) -> str:
    """The event as pretty JSON text; `values` override the options' defaults."""
    sample = find(service, event)
    merged = {option.name: option.default for option in (*COMMON, *sample.options)}
    merged.update({key: value for key, value in (values or {}).items() if value is not None})
    return json.dumps(sample.build(merged), indent=2) + "\n"
