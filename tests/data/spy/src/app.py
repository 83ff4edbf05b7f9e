"""A spy function: from inside its sandbox, tries what issue 13 found possible, and reports what it managed.

Also imported by the test itself (the /proc/net/tcp reader), to check the same ports from an outside process.
"""

import json
import os
import socket
from pathlib import Path

FIRST_UID, LAST_UID = 64000, 64999  # the box's function identities (esb_runtime.manager.identities)


def sandbox_listeners():
    """(port, uid) of every TCP listener on 127.0.0.1 owned by a function identity: the RIEs' two ports each."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, state, uid = fields[1], fields[3], int(fields[7])
        host, port = address.split(":")
        if state == "0A" and host == "0100007F" and FIRST_UID <= uid <= LAST_UID:
            found.append((int(port, 16), uid))
    return sorted(found)


def reaches(port, timeout=1.0):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def steal(port):
    """Ask another sandbox's runtime API for its next event (what awslambdaric does); True if one came."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def other_sandbox_pids():
    mine = os.getuid()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = int(next(line for line in (entry / "status").read_text().splitlines()
                           if line.startswith("Uid:")).split()[1])
        except (OSError, StopIteration):
            continue
        if FIRST_UID <= uid <= LAST_UID and uid != mine:
            pids.append(int(entry.name))
    return pids


def outcome(action):
    try:
        action()
        return "allowed"
    except Exception as exc:  # the kind of refusal is the answer
        return type(exc).__name__


def importable(name):
    return outcome(lambda: __import__(name))


def handler(event, context):
    out = Path(event["out"])
    others = other_sandbox_pids()
    own_api = int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    ports = [port for port, _ in sandbox_listeners() if port != own_api]
    reached = [port for port in ports if reaches(port)]
    import boto3

    return {
        "uid": os.getuid(),
        "others": len(others),
        "environ_read": sum(outcome(lambda p=p: Path(f"/proc/{p}/environ").read_bytes()) == "allowed" for p in others),
        "signalled": sum(outcome(lambda p=p: os.kill(p, 0)) == "allowed" for p in others),
        "ports": len(ports),
        "reached": reached,
        "stolen": sum(steal(port) for port in reached),
        "imports": {name: importable(name) for name in ("moto", "yaml", "esb_runtime", "requests", "esb")},
        "boto3": boto3.__version__,
        "data": outcome(lambda: os.listdir(out / "data")),
        "secrets": outcome(lambda: os.listdir(out / "secrets")),
        "state": outcome(lambda: os.listdir(out / "state")),
        "logs": outcome(lambda: os.listdir(out / "logs")),
        "config": outcome(lambda: (out / "config" / "functions.yml").read_bytes()),  # every function's environment
        "victim_code": outcome(lambda: (out / "functions" / event["victim"] / "src" / "app.py").read_bytes()),
        "sys_path": [p for p in __import__("sys").path if p],
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
    }


def victim(event, context):
    return {"uid": os.getuid(), "secret": os.environ.get("VICTIM_SECRET")}


if __name__ == "__main__":
    print(json.dumps(sandbox_listeners()))
