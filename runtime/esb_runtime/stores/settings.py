"""Settings of the embedded stores process: RuntimeSettings plus the few variables only it reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from esb_runtime.settings import RuntimeSettings

DEFAULT_PORT = 4566


@dataclass(frozen=True)
class StoresSettings:
    data_dir: Path
    secrets_file: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    snapshot_interval_s: float = 5.0  # how often to check whether the journal is due for compaction
    # Compact the journal into a snapshot past this many writes or bytes (bounds the replay at start).
    compact_records: int = 2000
    compact_bytes: int = 64 * 1024 * 1024
    auth: bool = True  # False only for debugging: moto then accepts any credentials
    # The stable endpoint for laptop-side AWS tools (generator.yml ports.aws / ports.aws_http; 0 = none):
    # HTTPS with the box's server certificate, and optionally plain HTTP; both on loopback.
    public_tls_port: int = 0
    public_http_port: int = 0
    tls_dir: Path | None = None
    account_id: str = "000000000000"  # the account of every ARN the box resolves (SAM loader's default)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "StoresSettings":
        """ESB_STORES_HOST (the bind address, default loopback), ESB_STORES_PORT (else the port of ESB_S3_ENDPOINT, else 4566), ESB_STORES_SNAPSHOT_INTERVAL
        (seconds, default 5), ESB_STORES_COMPACT_RECORDS / ESB_STORES_COMPACT_BYTES (journal size that
        triggers a snapshot), ESB_STORES_AUTH (1 = SigV4 with the box's keys, 0 = off), ESB_STORES_TLS_PORT /
        ESB_STORES_HTTP_PORT (the public listeners; unset or 0 = none)."""
        env = os.environ if env is None else env
        runtime = RuntimeSettings.from_env(env)
        port = DEFAULT_PORT
        if env.get("ESB_STORES_PORT"):
            port = int(env["ESB_STORES_PORT"])
        elif runtime.s3_endpoint and urlsplit(runtime.s3_endpoint).port:
            port = int(urlsplit(runtime.s3_endpoint).port or DEFAULT_PORT)
        return cls(
            data_dir=runtime.data_dir,
            host=env.get("ESB_STORES_HOST") or cls.host,
            secrets_file=runtime.secrets_file,
            port=port,
            snapshot_interval_s=float(env.get("ESB_STORES_SNAPSHOT_INTERVAL", "5")),
            compact_records=int(env.get("ESB_STORES_COMPACT_RECORDS", cls.compact_records)),
            compact_bytes=int(env.get("ESB_STORES_COMPACT_BYTES", cls.compact_bytes)),
            auth=env.get("ESB_STORES_AUTH", "1") != "0",
            public_tls_port=int(env.get("ESB_STORES_TLS_PORT") or 0),
            public_http_port=int(env.get("ESB_STORES_HTTP_PORT") or 0),
            tls_dir=runtime.tls_dir,
        )
