"""Restoring the last snapshot into the starting stores from a child process (`python -m esb_runtime.stores.restore`).

The restore goes through boto3 clients, whose service models (S3's alone is ~8 MB once parsed) would stay in the
stores process for its whole life: a box restarted from a snapshot idled at 74 MB instead of 66 (issue 14). The
child makes the same requests against the stores' private endpoint, marked internal so the restore gate lets them
in, and hands the snapshot's manifest back on stdout; its memory goes when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from esb_runtime.stores import snapshot
from esb_runtime.stores.auth import Credentials

INTERNAL_HEADER = "X-Esb-Internal"
_ENDPOINT, _TOKEN, _KEY, _SECRET = ("ESB_RESTORE_ENDPOINT", "ESB_RESTORE_TOKEN", "ESB_RESTORE_ACCESS_KEY",
                                    "ESB_RESTORE_SECRET_KEY")


def client(endpoint: str, credentials: Credentials, token: str, service: str, region: str) -> Any:
    """A boto3 client of the stores whose requests carry the internal token (they pass the restore gate)."""
    import boto3
    from botocore.config import Config

    made = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"max_attempts": 3}, max_pool_connections=16),
    )

    def mark(request: Any, **_: Any) -> None:
        request.headers[INTERNAL_HEADER] = token

    made.meta.events.register("before-sign", mark)
    return made


def in_child(data_dir: Path, endpoint: str, credentials: Credentials, token: str) -> dict | None:
    """Restore the snapshot of `data_dir` through a child process; its manifest (None: no snapshot). Raises
    RuntimeError with the child's last words when it fails."""
    if snapshot.current_snapshot(data_dir) is None:
        return snapshot.restore(data_dir, _no_clients)  # no snapshot: it only clears what a crash left
    # The secrets go by environment (readable by this user only), never on the command line.
    env = {**os.environ, _ENDPOINT: endpoint, _TOKEN: token, _KEY: credentials.access_key_id,
           _SECRET: credentials.secret_access_key}
    done = subprocess.run([sys.executable, "-m", "esb_runtime.stores.restore", str(data_dir)], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise RuntimeError(f"snapshot restore failed: {last}")
    manifest = json.loads(done.stdout)
    return manifest if isinstance(manifest, dict) else None


def _no_clients(service: str, region: str) -> Any:
    raise AssertionError("no snapshot, no request")


def main(argv: list[str]) -> int:
    env = os.environ
    credentials = Credentials(env[_KEY], env[_SECRET])

    def clients(service: str, region: str) -> Any:
        return client(env[_ENDPOINT], credentials, env[_TOKEN], service, region)

    print(json.dumps(snapshot.restore(Path(argv[0]), clients)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
