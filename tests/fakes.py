"""Small stand-ins for foreign clients, shared by the unit tests that need them."""

from __future__ import annotations

from typing import Any


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
