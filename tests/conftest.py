"""Shared fixtures: a clean environment, the genuine RIE, and factories for function code and functions.yml."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

_CLEARED_PREFIXES = ("ESB_", "AWS_", "DOCKER_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ESB_*/AWS_*/DOCKER_* settings."""
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def rie_path() -> Path:
    """The genuine AWS Lambda RIE, fetched once into the user cache (ESB_RIE_PATH wins when set)."""
    from esb.paths import cache_dir
    from esb.build.rie import ensure_rie

    return ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None)


@pytest.fixture
def write_function(tmp_path: Path) -> Callable[..., Path]:
    """write_function(name, source, files=None) -> code dir under <tmp>/.esb/functions/<name>/src, with build.json."""

    def write(name: str, source: str, filename: str = "app.py", files: dict[str, str] | None = None) -> Path:
        fn_dir = tmp_path / ".esb" / "functions" / name
        src = fn_dir / "src"
        src.mkdir(parents=True, exist_ok=True)
        (src / filename).write_text(textwrap.dedent(source), encoding="utf-8")
        for rel, text in (files or {}).items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(textwrap.dedent(text), encoding="utf-8")
        digest = hashlib.sha256()
        for path in sorted(src.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(src).as_posix().encode() + path.read_bytes())
        (fn_dir / "build.json").write_text(json.dumps({"code_hash": digest.hexdigest()}), encoding="utf-8")
        (fn_dir / "deps").mkdir(exist_ok=True)
        return src

    return write


@pytest.fixture
def write_functions_yml(tmp_path: Path) -> Callable[..., Path]:
    """write_functions_yml({name: {handler, timeout, ...}}) -> <tmp>/.esb/config/functions.yml (paths filled in)."""

    def write(functions: dict[str, dict[str, Any]], project: str = "test") -> Path:
        entries = {}
        for name, fields in functions.items():
            entry: dict[str, Any] = {
                "logical_id": name.title().replace("-", ""),
                "handler": "app.handler",
                "runtime": "python3.11",
                "architecture": "x86_64",
                "timeout": 3,
                "memory_size": 128,
                "reserved_concurrency": None,
                "environment": {},
                "layers": [],
                "code_dir": f"functions/{name}/src",
                "deps_dir": f"functions/{name}/deps",
                "layer_dirs": [],
                "manifest": f"functions/{name}/build.json",
                "schedules": [],
                "function_url": None,
            }
            entry.update(fields)
            entry["config_hash"] = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
            entries[name] = entry
        path = tmp_path / ".esb" / "config" / "functions.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"project": project, "region": "us-east-1", "account_id": "000000000000", "functions": entries}
        path.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
        return path

    return write
