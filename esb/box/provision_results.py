"""What provisioning did to one resource (shared by the stores, services and deliveries provisioners)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["created", "unchanged", "updated", "changed-needs-reset"]


@dataclass(frozen=True)
class ResourceResult:
    kind: str  # table, bucket, queue, topic, subscription, rule, bus, param, secret, stream, logs, delivery
    name: str
    logical_id: str
    status: Status
    details: tuple[str, ...] = ()
