"""Benchmark: write throughput of the embedded stores (DynamoDB put_item, S3 put_object), and restart time.

Run it against this tree, and against another tree's runtime (`--runtime /tmp/old/runtime`) to compare
(e.g. the snapshot-only stores before the journal: `git archive <commit> runtime | tar -x -C /tmp/old`).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "runtime"))

from esb_runtime.secrets import ensure  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(runtime: Path, out: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESB_", "AWS_"))}
    env.update(ESB_OUTPUT_DIR=str(out), ESB_STORES_PORT=str(port), PYTHONPATH=str(runtime))
    proc = subprocess.Popen([sys.executable, "-m", "esb_runtime.stores"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_esb/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("stores did not become healthy")


def _rate(count: int, threads: int, call) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(call, range(count)))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtime", type=Path, default=REPO / "runtime", help="folder holding esb_runtime")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out, port = Path(tmp) / ".esb", _port()
        secrets = ensure(out / "secrets" / "box.json")
        proc = _start(args.runtime, out, port)
        try:
            def client(service: str):
                return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                    aws_access_key_id=secrets.aws_access_key_id,
                                    aws_secret_access_key=secrets.aws_secret_access_key,
                                    config=Config(max_pool_connections=16, retries={"max_attempts": 1}))

            ddb, s3 = client("dynamodb"), client("s3")
            ddb.create_table(TableName="bench", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
            s3.create_bucket(Bucket="bench")
            for threads in (1, 8):
                for name, call in (
                    ("dynamodb put_item", lambda i: ddb.put_item(TableName="bench", Item={"pk": {"S": f"{time.time_ns()}-{i}"}})),
                    ("s3 put_object 1 KiB", lambda i: s3.put_object(Bucket="bench", Key=f"{time.time_ns()}-{i}", Body=b"x" * 1024)),
                ):
                    rates = [_rate(args.count, threads, call) for _ in range(args.rounds)]
                    print(f"{name:22s} {threads} client(s): median {statistics.median(rates):7.1f}/s "
                          f"(rounds: {', '.join(f'{r:.0f}' for r in rates)})", flush=True)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            started = time.perf_counter()
            proc = _start(args.runtime, out, port)
            print(f"restart after kill -9 with {4 * args.count * args.rounds} writes: "
                  f"{time.perf_counter() - started:.2f}s to healthy", flush=True)
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
