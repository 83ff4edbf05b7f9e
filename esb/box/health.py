"""Whether a box is `running`, `degraded` (which part, since when, restarts so far) or `stopped`, from its record."""

from __future__ import annotations

import time
from typing import Any

from esb.box.state import BoxState

SUPERVISOR = "supervisor"


def assess(state: BoxState | None) -> dict[str, Any]:
    """The `state` of `esb status`, with one entry per part that is not serving and since when."""
    if state is None:
        return {"state": "stopped", "since": None, "degraded": []}
    if state.engine == "compose":  # docker-compose restarts its own services; we only know it was started
        return {"state": "running", "since": state.started_at, "degraded": []}
    alive = {proc.name: proc.alive() for proc in state.procs}
    supervisor_alive = state.supervisor is not None and state.supervisor.alive()
    if not any(alive.values()) and not supervisor_alive:
        return {"state": "stopped", "since": None, "degraded": []}  # nothing of it is left
    troubles = [t for t in (_trouble(state, name, up) for name, up in alive.items()) if t is not None]
    if state.supervisor is not None and not supervisor_alive:
        troubles.append({"part": SUPERVISOR, "state": "down", "since": None, "restarts": 0, "last_exit": None})
    if not troubles:
        return {"state": "running", "since": state.started_at, "degraded": []}
    known = [t["since"] for t in troubles if t["since"]]
    return {"state": "degraded", "since": min(known) if known else None, "degraded": troubles}


def _trouble(state: BoxState, name: str, alive: bool) -> dict[str, Any] | None:
    part = state.part(name)
    if alive and part.state == "up":
        return None
    word = part.state if part.state != "up" else "down"  # dead, and the supervisor has not noticed yet
    return {"part": name, "state": word, "since": part.since or None, "restarts": part.restarts,
            "last_exit": part.last_exit}


def summary(state: BoxState | None) -> str:
    """One line for people: `manager restarting since 12:01:02, 3 restarts; supervisor down`."""
    report = assess(state)
    return describe(report["degraded"]) if report["state"] == "degraded" else report["state"]


def describe(troubles: list[dict[str, Any]]) -> str:
    items = []
    for t in troubles:
        since = f" since {time.strftime('%H:%M:%S', time.localtime(t['since']))}" if t["since"] else ""
        restarts = f", {t['restarts']} restart{'s' if t['restarts'] != 1 else ''}" if t["restarts"] else ""
        items.append(f"{t['part']} {t['state']}{since}{restarts}")
    return "; ".join(items)
