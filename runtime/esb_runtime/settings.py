"""Runtime settings: built once from the environment at a process entry point, then passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


from esb_runtime.contract import DEFAULT_GATEWAY_PORT, SIGNING_KEY_FILE


@dataclass(frozen=True)
class RuntimeSettings:
    output_dir: Path  # the project's output tree (.esb/)
    manager_socket: Path
    rie_path: Path | None
    engine: str = "process"  # process | docker
    idle_timeout_s: float = 300.0
    default_concurrency: int = 10  # per function, when ReservedConcurrentExecutions is not set
    acquire_timeout_s: float = 10.0
    gateway_host: str = "127.0.0.1"
    gateway_port: int = DEFAULT_GATEWAY_PORT
    gateway_workers: int = 1
    tls: bool = True
    s3_endpoint: str | None = None
    dynamodb_endpoint: str | None = None
    lambda_endpoint: str | None = None  # the gateway's Invoke API as seen from sandboxes
    services_endpoint: str | None = None  # the embedded stores: SQS, SNS, ... and the UnsupportedService answer
    log_store: str = "local"  # local | victorialogs
    victorialogs_url: str | None = None
    token_lifetime_s: int = 3600
    breaker_failures: int = 3  # consecutive crashes/timeouts that open a function's breaker (0 = off)
    breaker_window_s: float = 10.0  # how long an open breaker answers 502 before a trial call
    debug: bool = False  # `esb up --debug`: the emulator's own debug lines too
    log_owner: str = ""  # "uid:gid" the local log files are handed to (a compose stack's host user); "": the writer

    @property
    def config_dir(self) -> Path:
        return self.output_dir / "config"

    @property
    def lease_socket(self) -> Path:
        """The manager's lease socket (gateway workers hold sandboxes there), beside its API socket."""
        return self.manager_socket.with_name("leases.sock")

    @property
    def secrets_file(self) -> Path:
        return self.output_dir / "secrets" / "box.json"

    @property
    def signing_key_file(self) -> Path:
        return self.output_dir / "secrets" / SIGNING_KEY_FILE

    @property
    def tls_dir(self) -> Path:
        return self.output_dir / "secrets" / "tls"

    @property
    def logs_dir(self) -> Path:
        return self.output_dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def state_dir(self) -> Path:
        return self.output_dir / "state"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RuntimeSettings":
        env = os.environ if env is None else env
        out = Path(env.get("ESB_OUTPUT_DIR", ".esb")).resolve()
        rie = env.get("ESB_RIE_PATH")
        return cls(
            output_dir=out,
            manager_socket=Path(env.get("ESB_MANAGER_SOCKET", str(out / "state" / "manager.sock"))),
            rie_path=Path(rie) if rie else None,
            engine=env.get("ESB_ENGINE", "process"),
            idle_timeout_s=float(env.get("ESB_IDLE_TIMEOUT", "300")),
            default_concurrency=int(env.get("ESB_MAX_CONCURRENCY", "10")),
            acquire_timeout_s=float(env.get("ESB_ACQUIRE_TIMEOUT", "10")),
            gateway_host=env.get("ESB_GATEWAY_HOST", "127.0.0.1"),
            gateway_port=int(env.get("ESB_GATEWAY_PORT") or DEFAULT_GATEWAY_PORT),
            gateway_workers=int(env.get("ESB_GATEWAY_WORKERS", "1")),
            tls=env.get("ESB_TLS", "1") != "0",
            s3_endpoint=env.get("ESB_S3_ENDPOINT") or None,
            dynamodb_endpoint=env.get("ESB_DYNAMODB_ENDPOINT") or None,
            lambda_endpoint=env.get("ESB_LAMBDA_ENDPOINT") or None,
            services_endpoint=env.get("ESB_SERVICES_ENDPOINT") or None,
            log_store=env.get("ESB_LOG_STORE", "local"),
            victorialogs_url=env.get("ESB_VICTORIALOGS_URL") or None,
            token_lifetime_s=int(env.get("ESB_TOKEN_LIFETIME", "3600")),
            breaker_failures=int(env.get("ESB_BREAKER_FAILURES", "3")),
            breaker_window_s=float(env.get("ESB_BREAKER_WINDOW", "10")),
            debug=env.get("ESB_DEBUG", "0") == "1",
            log_owner=env.get("ESB_LOG_OWNER", ""),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` rebuild these settings in a child process."""
        pairs = {
            "ESB_OUTPUT_DIR": str(self.output_dir),
            "ESB_MANAGER_SOCKET": str(self.manager_socket),
            "ESB_RIE_PATH": str(self.rie_path) if self.rie_path else "",
            "ESB_ENGINE": self.engine,
            "ESB_IDLE_TIMEOUT": str(self.idle_timeout_s),
            "ESB_MAX_CONCURRENCY": str(self.default_concurrency),
            "ESB_ACQUIRE_TIMEOUT": str(self.acquire_timeout_s),
            "ESB_GATEWAY_HOST": self.gateway_host,
            "ESB_GATEWAY_PORT": str(self.gateway_port),
            "ESB_GATEWAY_WORKERS": str(self.gateway_workers),
            "ESB_TLS": "1" if self.tls else "0",
            "ESB_S3_ENDPOINT": self.s3_endpoint or "",
            "ESB_DYNAMODB_ENDPOINT": self.dynamodb_endpoint or "",
            "ESB_LAMBDA_ENDPOINT": self.lambda_endpoint or "",
            "ESB_SERVICES_ENDPOINT": self.services_endpoint or "",
            "ESB_LOG_STORE": self.log_store,
            "ESB_VICTORIALOGS_URL": self.victorialogs_url or "",
            "ESB_TOKEN_LIFETIME": str(self.token_lifetime_s),
            "ESB_BREAKER_FAILURES": str(self.breaker_failures),
            "ESB_BREAKER_WINDOW": str(self.breaker_window_s),
            "ESB_DEBUG": "1" if self.debug else "0",
            "ESB_LOG_OWNER": self.log_owner,
        }
        return pairs
