"""Small stand-ins for foreign clients, shared by the unit tests that need them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from esb_runtime.config import FunctionsConfig, functions_from_document


class _BridgeNetworks:
    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs

    def get(self, name: str) -> "_BridgeNetworks":
        assert name == "bridge"
        return self


class BridgeClient:
    """A docker client whose only network is the default bridge, inspected as `attrs`."""

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.networks = _BridgeNetworks(attrs)


def functions_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A complete functions.yml document from a test's partial one: each entry gets a handler and a code dir."""
    entries = {name: {"handler": "app.handler", "code_dir": f"functions/{name}", **(entry or {})}
               for name, entry in (doc.get("functions") or {}).items()}
    return {**doc, "functions": entries}


def functions_config(doc: Mapping[str, Any]) -> FunctionsConfig:
    """The parsed functions.yml of a test's partial document."""
    return functions_from_document(functions_document(doc), Path("/out"))
