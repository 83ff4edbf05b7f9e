"""Hostile traffic and input against a real box (process engine, loopback only): prints the issue-15 table measured.

Run: .venv/bin/python bench/hostile.py [--idle 2100] [--fresh 200]
Starts `esb up -d --engine process` on a temporary copy of fixtures/e2e, attacks it from 127.0.0.2 (legitimate
clients use 127.0.0.1), bounded in count and time, prints one row per probe, then `esb down`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
ESB = [sys.executable, "-m", "esb.cli"]
ATTACKER = "127.0.0.2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


class Box:
    def __init__(self, project: Path, port: int) -> None:
        self.project, self.port = project, port
        env = {**os.environ, "ESB_GATEWAY_PORT": str(port)}
        subprocess.run([*ESB, "up", "-d", "--engine", "process"], cwd=project, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
        out = subprocess.run([*ESB, "status", "--json"], cwd=project, capture_output=True, text=True, check=True).stdout
        self.status = json.loads(out[out.index("{"):out.rindex("}") + 1])
        self.tls = ssl.create_default_context(cafile=self.status["gateway"]["ca_file"])

    def down(self) -> None:
        subprocess.run([*ESB, "down"], cwd=self.project, stdout=subprocess.DEVNULL, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=timeout,
                                           source_address=("127.0.0.1", 0))
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def log_size(self) -> int:
        return sum(p.stat().st_size for p in (self.project / ".esb" / "logs").glob("gateway.out*"))

    def worker_rss_mb(self) -> float:
        # gunicorn's workers (several) or the one-process gateway (esb_runtime.gateway.serve).
        pids = subprocess.run(["pgrep", "-f", "esb_runtime.gateway"], capture_output=True, text=True).stdout
        total = 0
        for pid in pids.split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                continue
            if cwd == str(self.project):
                total = max(total, int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1]))
        return total / 1024


def legit(box: Box, n: int = 10) -> tuple[int, float]:
    ok, times = 0, []
    for _ in range(n):
        started = time.perf_counter()
        try:
            ok += box.request("GET", "/echo/legit", timeout=10)[0] == 200
        except OSError:
            pass
        times.append(time.perf_counter() - started)
    return ok, pct(times, 99)


def row(probe: str, measured: str) -> None:
    print(f"| {probe} | {measured} |", flush=True)


def _while_held(box: Box, label: str, socks: list[socket.socket]) -> None:
    """Legitimate calls while the attack's connections are held open, then let them go."""
    ok, p99 = legit(box)
    row(f"{len(socks)} {label}", f"{ok}/10 legitimate served, p99 {p99:.3f} s")
    for sock in socks:
        sock.close()


def probe_idle(box: Box, count: int) -> None:
    socks = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", box.port), timeout=2, source_address=(ATTACKER, 0))
            socks.append(sock)
        except OSError:
            break
    _while_held(box, f"idle TCP connections from {ATTACKER}", socks)
    slow = []
    for _ in range(min(300, count)):  # slow-header TLS clients: handshake, then a header that never ends
        try:
            sock = box.tls.wrap_socket(socket.create_connection(("127.0.0.1", box.port), timeout=5,
                                                                 source_address=("127.0.0.3", 0)),
                                       server_hostname="127.0.0.1")
            sock.sendall(b"GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(sock)
        except OSError:
            pass
    _while_held(box, "slow-header TLS clients from 127.0.0.3", slow)


def probe_fresh(box: Box, n: int) -> None:
    times, hs, ok = [], [], [0]
    gate = threading.Barrier(n)

    def one() -> None:
        gate.wait()
        started = time.perf_counter()
        try:
            sock = box.tls.wrap_socket(socket.create_connection(("127.0.0.1", box.port), timeout=30),
                                       server_hostname="127.0.0.1")
            hs.append(time.perf_counter() - started)
            sock.sendall(b"GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            ok[0] += data.startswith(b"HTTP/1.1 200")
            sock.close()
        except OSError:
            pass
        times.append(time.perf_counter() - started)

    box.request("GET", "/echo/warm")
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    row(f"{n} concurrent requests on fresh TLS connections",
        f"{ok[0]}/{n} ok, p50 {pct(times, 50):.2f} s, p99 {pct(times, 99):.2f} s (handshake p50 {pct(hs, 50):.2f} s)")
    started, count = time.perf_counter(), 100
    for _ in range(count):
        box.tls.wrap_socket(socket.create_connection(("127.0.0.1", box.port)), server_hostname="127.0.0.1").close()
    row("serial TLS handshakes", f"{count / (time.perf_counter() - started):.0f}/s (client and server on this host)")


def probe_junk(box: Box) -> None:
    before = box.log_size()
    for _ in range(500):
        with socket.create_connection(("127.0.0.1", box.port), source_address=("127.0.0.4", 0)) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05junk-junk-junk\r\n\r\n")
    time.sleep(1)
    row("500 junk TLS handshakes from 127.0.0.4", f"{box.log_size() - before} bytes added to logs/gateway.out")


def probe_chunk(box: Box) -> None:
    sock = box.tls.wrap_socket(socket.create_connection(("127.0.0.1", box.port), timeout=10),
                               server_hostname="127.0.0.1")
    sock.sendall(b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    row("a bad chunk size", sock.recv(64).split(b"\r\n")[0].decode())
    sock.close()


def sign(method: str, url: str, body: bytes, service: str, box: Box, *, when: dt.datetime | None = None,
         unsigned: bool = False) -> dict[str, str]:
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws = box.status["aws"]
    headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"} if unsigned else {}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    if unsigned:
        request.context["payload_signing_enabled"] = False
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(
        Credentials(aws["access_key_id"], aws["secret_access_key"]), service, aws["region"])
    moment = when or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        signer.add_auth(request)
    return dict(request.headers.items())


def probe_sigv4(box: Box) -> None:
    path = "/2015-03-31/functions/e2e-echo/invocations"
    headers = sign("POST", f"https://127.0.0.1:{box.port}{path}", b'{"a":1}', "lambda", box, unsigned=True)
    status, _ = box.request("POST", path, b'{"a":2}', headers)
    row("Invoke API, UNSIGNED-PAYLOAD, body swapped after signing", str(status))
    before = box.worker_rss_mb()
    statuses = set()
    for _ in range(60):
        statuses.add(box.request("POST", path, b"x" * 6_000_000, {"Content-Type": "application/json"})[0])
    row("60 unsigned 6 MB Invoke API bodies",
        f"{sorted(statuses)}; largest worker RSS {before:.0f} -> {box.worker_rss_mb():.0f} MB")
    stores = box.status["stores"]["s3_endpoint"]
    host = stores.split("//", 1)[1]
    results = []
    for age in (dt.timedelta(minutes=20), dt.timedelta(days=7)):
        url = f"{stores}/"
        headers = sign("GET", url, b"", "s3", box, when=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - age)
        conn = http.client.HTTPConnection(host, timeout=10)
        conn.request("GET", "/", headers=headers)
        results.append(conn.getresponse().status)
        conn.close()
    bucket = next(iter(box.status.get("buckets", []) or []), None) or "e2e-files-test"
    url = f"{stores}/{bucket}/swapped.txt"
    headers = sign("PUT", url, b"original", "s3", box)
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("PUT", f"/{bucket}/swapped.txt", body=b"tampered", headers=headers)
    put = conn.getresponse().status
    conn.close()
    row("stores: signed 20 min / 7 days ago; S3 PUT body swapped", f"{results[0]} / {results[1]}; PUT {put}")


def probe_auth(box: Box) -> None:
    auth = box.status["auth"]
    counts: dict[int, int] = {}
    started = time.perf_counter()
    for index in range(300):
        body = json.dumps({"AuthParameters": {"USERNAME": auth["username"], "PASSWORD": f"guess{index}"}})
        conn = http.client.HTTPSConnection("127.0.0.1", box.port, context=box.tls, source_address=(ATTACKER, 0))
        conn.request("POST", auth["auth_path"], body=body, headers={"x-api-key": auth["api_key"]})
        status = conn.getresponse().status
        conn.close()
        counts[status] = counts.get(status, 0) + 1
    rate = 300 / (time.perf_counter() - started)
    body = json.dumps({"AuthParameters": {"USERNAME": auth["username"], "PASSWORD": auth["password"]}}).encode()
    right = box.request("POST", auth["auth_path"], body, {"x-api-key": auth["api_key"]})[0]
    row("300 wrong passwords from one source", f"{counts} at {rate:.0f}/s; right login from another host: {right}")


def probe_templates(work: Path) -> None:
    from esb.errors import TemplateError
    from esb.sam import load_application

    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")]
    cases: dict[str, str] = {"YAML alias bomb (9^9)": "\n".join(levels) + "\n"}
    fn = "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: a.h\n" \
         "      Runtime: python3.12\n"
    cases["missing CodeUri"] = fn
    for extra in ("ReservedConcurrentExecutions: -1", "MemorySize: 100000000000",
                  "Events: {E: {Type: Api, Properties: {Path: '/a/{p+}/b', Method: GET}}}"):
        cases[extra.split(":")[0] if "Events" not in extra else "{p+} not last"] = fn + f"      CodeUri: src\n      {extra}\n"
    (work / "src").mkdir(exist_ok=True)
    for name, text in cases.items():
        (work / "template.yaml").write_text(textwrap.dedent(text))
        started = time.perf_counter()
        try:
            load_application(work / "template.yaml")
            result = "accepted"
        except TemplateError as exc:
            result = str(exc)
        row(f"template: {name}", f"{result} ({(time.perf_counter() - started) * 1000:.0f} ms)")


def probe_tls(box: Box) -> None:
    from cryptography import x509

    tls_dir = Path(box.status["gateway"]["ca_file"]).parent
    cert = x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees or []
    cbc = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256")
    try:
        cbc.wrap_socket(socket.create_connection(("127.0.0.1", box.port)), server_hostname="127.0.0.1").close()
        cbc_result = "CBC accepted"
    except ssl.SSLError:
        cbc_result = "CBC refused"
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    row("TLS", f"TLS 1.2 {cbc_result}; server cert {days} days; CA permits {len(constraints)} names only")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=int, default=2100)
    parser.add_argument("--fresh", type=int, default=200)
    parser.add_argument("--only", default="", help="comma-separated probes to run (idle,fresh,junk,chunk,sigv4,auth,"
                                                   "tls,templates); all by default")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    work = Path(tempfile.mkdtemp(prefix="esb-hostile-"))
    project = work / "app"
    shutil.copytree(REPO / "fixtures" / "e2e", project, ignore=shutil.ignore_patterns(".esb", "__pycache__"))
    print("| probe | measured |\n|---|---|")
    if not only or "templates" in only:
        probe_templates(work)
    box = Box(project, free_port())
    probes: dict[str, Callable[[], Any]] = {
        "idle": lambda: probe_idle(box, args.idle), "fresh": lambda: probe_fresh(box, args.fresh),
        "junk": lambda: probe_junk(box), "chunk": lambda: probe_chunk(box), "sigv4": lambda: probe_sigv4(box),
        "auth": lambda: probe_auth(box), "tls": lambda: probe_tls(box)}
    try:
        for name, probe in probes.items():
            if not only or name in only:
                probe()
    finally:
        box.down()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
