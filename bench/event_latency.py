"""Delivery latency of event sources on the process engine: put → handler start, median over N puts.

Starts a real box on a copy of fixtures/events, sends SQS messages and S3 puts one at a time from this
process, and reads each handler's start time from the seen table. Prints medians; not a test.
    python bench/event_latency.py [--count 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from boxkit import copy_app, running_box  # noqa: E402


def _client(box, service):  # noqa: ANN001, ANN202
    import boto3

    aws = box.status["aws"]
    return boto3.client(service, endpoint_url=box.status["stores"]["s3_endpoint"], region_name=aws["region"],
                        aws_access_key_id=aws["access_key_id"], aws_secret_access_key=aws["secret_access_key"])


def _started_after(ddb, function: str, since: float, timeout_s: float = 10.0) -> float | None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items = ddb.query(TableName="events-seen", KeyConditionExpression="pk = :f",
                          ExpressionAttributeValues={":f": {"S": function}})["Items"]
        starts = [float(i["started"]["N"]) for i in items if float(i["started"]["N"]) >= since]
        if starts:
            return min(starts)
        time.sleep(0.01)
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args(argv)
    project = copy_app("events", Path(tempfile.mkdtemp(prefix="esb-bench-")))
    with running_box(project) as box:
        sqs, s3, ddb = _client(box, "sqs"), _client(box, "s3"), _client(box, "dynamodb")
        url = sqs.get_queue_url(QueueName="events-jobs")["QueueUrl"]
        warm = time.time()
        sqs.send_message(QueueUrl=url, MessageBody="warm-up")
        s3.put_object(Bucket="events-uploads", Key="warm.csv", Body=b"x")
        _started_after(ddb, "events-jobs", warm, 30)
        _started_after(ddb, "events-uploads", warm, 30)
        results: dict[str, list[float]] = {"SQS": [], "S3": []}
        for i in range(args.count):
            for kind, function, put in (
                ("SQS", "events-jobs", lambda: sqs.send_message(QueueUrl=url, MessageBody=f"m-{i}")),
                ("S3", "events-uploads", lambda: s3.put_object(Bucket="events-uploads", Key=f"b/{i}.csv", Body=b"x")),
            ):
                time.sleep(0.05)
                sent = time.time()
                put()
                started = _started_after(ddb, function, sent)
                if started is not None:
                    results[kind].append((started - sent) * 1000)
        print(json.dumps({kind: {"median_ms": round(statistics.median(v), 1), "p90_ms":
                                 round(sorted(v)[int(len(v) * 0.9) - 1], 1), "n": len(v)}
                          for kind, v in results.items() if v}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
