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


def name_part(text: str) -> str:
    """`text` as a docker name part ([a-zA-Z0-9_.-])."""
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.") or "x"


def network_name(project: str) -> str:
    """The docker network of a project's box: the compose file names it, the docker engine joins it."""
    return f"esb-{name_part(project)}"
