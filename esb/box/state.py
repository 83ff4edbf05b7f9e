"""The running box's record (state/box.json): what `esb up` started, read by `down` and `status`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from esb.box.processes import Proc


@dataclass(frozen=True)
class PartHealth:
    """What the supervisor knows of one part: `up`, `restarting` (dead or not ready yet) or `failed` (gave up)."""

    state: str = "up"
    since: float = 0.0  # when it last went down (0 while up)
    restarts: int = 0
    last_exit: int | None = None  # exit code, -N for signal N, None when not known (not the supervisor's child)
    last_restart_at: float = 0.0
    crashes: tuple[float, ...] = ()  # recent crash times: the window in which the supervisor gives up


@dataclass(frozen=True)
class BoxState:
    project: str
    engine: str
    gateway_url: str
    ca_file: str
    s3_endpoint: str
    dynamodb_endpoint: str
    lambda_endpoint: str
    region: str
    started_at: float
    procs: tuple[Proc, ...] = field(default=())
    supervisor: Proc | None = None  # the process that restarts dead parts (absent for compose)
    health: dict[str, PartHealth] = field(default_factory=dict)  # by part name; written by the supervisor
    aws_endpoint: str = ""  # the stable endpoint of every emulated service for tools on this machine (`esb env`)
    aws_http_endpoint: str = ""  # its optional plain-HTTP twin
    services_endpoint: str = ""  # the other emulated services (SQS, SNS, ...) for provisioning; "" when none

    def running(self) -> list[Proc]:
        return [proc for proc in self.procs if proc.alive()]

    def part(self, name: str) -> PartHealth:
        return self.health.get(name, PartHealth())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "BoxState":
        data = json.loads(text)
        data["procs"] = tuple(_proc(proc) for proc in data.get("procs", ()))
        data["supervisor"] = _proc(data["supervisor"]) if data.get("supervisor") else None
        data["health"] = {name: PartHealth(**{**h, "crashes": tuple(h.get("crashes", ()))})
                          for name, h in (data.get("health") or {}).items()}
        return cls(**data)


def _proc(data: dict) -> Proc:
    return Proc(**{**data, "argv": tuple(data.get("argv", ()))})


def state_file(state_dir: Path) -> Path:
    return state_dir / "box.json"


def read(state_dir: Path) -> BoxState | None:
    path = state_file(state_dir)
    try:
        return BoxState.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError):
        # A torn or foreign file: treat as no box, `up` will overwrite it.
        return None


def write(state_dir: Path, state: BoxState) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_file(state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json(), encoding="utf-8")
    os.replace(tmp, path)


def clear(state_dir: Path) -> None:
    state_file(state_dir).unlink(missing_ok=True)
