"""The output tree's contract between the toolchain that writes it and the runtime that reads it: file names,
the image record, the Lambda variables the RIE reads, the docker network's name, and the shared defaults."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

DEFAULT_GATEWAY_PORT = 8443  # the gateway's HTTPS port unless generator.yml `ports.gateway` says otherwise

# Per function, beside its staged code (functions/<fn>/code): what the build wrote.
BUILD_MANIFEST = "build.json"  # {"code_hash": ...}: a sandbox never serves once it changes
IMAGE_RECORD = "image.json"  # {"tag", "id"}: the function's image on the docker engine
SIGNING_KEY_FILE = "cognito-signing-key.pem"  # under secrets/: the box's RS256 token-signing key


@dataclass(frozen=True)
class ImageRecord:
    tag: str
    id: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"tag": self.tag, "id": self.id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ImageRecord":
        return cls(tag=str(data["tag"]), id=str(data.get("id") or ""))


def read_image_record(function_dir: Path) -> ImageRecord | None:
    """functions/<fn>/image.json, or None when the function has no image (yet) or the record is unreadable."""
    try:
        return ImageRecord.from_dict(json.loads((function_dir / IMAGE_RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_image_record(function_dir: Path, record: ImageRecord) -> None:
    """Write functions/<fn>/image.json, only when its bytes change (the manager watches its mtime)."""
    path = function_dir / IMAGE_RECORD
    text = json.dumps(record.to_dict(), sort_keys=True) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def rie_identity(name: str, timeout_s: int, memory_mb: int) -> dict[str, str]:
    """The variables the RIE reads to report a function's name, timeout and memory the way Lambda does."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s),
    }


# Read (and removed from the environment) by the base images' entrypoint: the RIE's --log-level. The RIE would
# otherwise read LOG_LEVEL, which is the function's own variable.
RIE_LOG_LEVEL_ENV = "ESB_RIE_LOG_LEVEL"


def rie_log_level(debug: bool) -> str:
    """The RIE's log level: its debug lines only with `esb up --debug`."""
    return "debug" if debug else "error"


# The RIE serves one invocation at a time, yet Go gives it a thread per core, and its idle threads spin for work
# while the box's other processes want those cores: on one thread it spent 0.17 instead of 0.26 ms of CPU per warm
# call, and the call's median fell by 0.1 ms (issue 14, 2 cores). For the RIE only: the runtime it starts runs
# without the variable, as on Lambda; a function that sets GOMAXPROCS itself keeps its value for both.
RIE_GO_ENV = {"GOMAXPROCS": "1"}
UNSET = "/usr/bin/env"  # `env -u NAME command`: the RIE's runtime command without the RIE's own variables


def rie_go_environment(function_env: Mapping[str, str]) -> dict[str, str]:
    """The Go settings the box adds to the RIE's environment (none the function sets itself)."""
    return {name: value for name, value in RIE_GO_ENV.items() if name not in function_env}


def without_rie_go(added: Mapping[str, str], command: list[str]) -> list[str]:
    """The runtime's command, run with the variables `added` for the RIE taken out again."""
    if not added:
        return command
    return [UNSET, *(arg for name in sorted(added) for arg in ("-u", name)), *command]


def name_part(text: str) -> str:
    """`text` as a docker name part ([a-zA-Z0-9_.-])."""
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.") or "x"


def network_name(project: str) -> str:
    """The docker network of a project's box: the compose file names it, the docker engine joins it."""
    return f"esb-{name_part(project)}"


# Per python runtime, in its staged environment (runtimes/python3.N/): which interpreter the build chose for it.
PYTHON_RECORD = "python.json"  # {"python", "version", "runtime", "note"}
PYTHON_BOOTSTRAP = "bootstrap/esb_bootstrap.py"  # alone in its dir: `import esb_runtime` fails in function code


@dataclass(frozen=True)
class PythonRecord:
    python: str  # the interpreter that runs this runtime's functions
    version: str  # its "3.N": what AWS_EXECUTION_ENV says
    runtime: str  # the declared runtime (python3.12)
    note: str | None = None  # why another version than the declared one runs it

    def to_dict(self) -> dict[str, Any]:
        return {"python": self.python, "version": self.version, "runtime": self.runtime, "note": self.note}


def read_python_record(runtime_dir: Path) -> PythonRecord | None:
    """runtimes/python3.N/python.json, or None (a tree built before these environments, or unreadable)."""
    try:
        raw = json.loads((runtime_dir / PYTHON_RECORD).read_text(encoding="utf-8"))
        return PythonRecord(python=str(raw["python"]), version=str(raw["version"]), runtime=str(raw["runtime"]),
                            note=raw.get("note") or None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_python_record(runtime_dir: Path, record: PythonRecord) -> bool:
    """Write runtimes/python3.N/python.json (world-readable: sandboxes run as other users) when it changes."""
    path = runtime_dir / PYTHON_RECORD
    text = json.dumps(record.to_dict(), sort_keys=True) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    return True
