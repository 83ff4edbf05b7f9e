"""The running box's record (state/box.json): what `esb up` started, read by `down` and `status`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from esb.supervisor import Proc


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

    def running(self) -> list[Proc]:
        return [proc for proc in self.procs if proc.alive()]

    def to_json(self) -> str:
        data = asdict(self)
        data["procs"] = [asdict(proc) for proc in self.procs]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "BoxState":
        data = json.loads(text)
        data["procs"] = tuple(Proc(**proc) for proc in data.get("procs", ()))
        return cls(**data)


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
