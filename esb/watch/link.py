"""The running box as `esb watch` sees it: poke the manager to reload, re-provision stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from esb.box import state as boxstate
from esb.model import Application
from esb.paths import BuildTree


class BoxLink(Protocol):
    """What the watcher needs from a running box (a fake in unit tests, `RunningBox` for real)."""

    def running(self) -> bool: ...

    def engine(self) -> str | None: ...

    def reload(self) -> list[str]: ...

    def provision(self, app: Application) -> str: ...


@dataclass(frozen=True)
class RunningBox:
    """The box recorded in the output tree's state/box.json (started by `esb up`)."""

    tree: BuildTree
    timeout_s: float = 10.0

    def running(self) -> bool:
        state = boxstate.read(self.tree.state)
        return state is not None and bool(state.running()) and self.tree.manager_socket.exists()

    def engine(self) -> str | None:
        state = boxstate.read(self.tree.state)
        return state.engine if state is not None else None

    def reload(self) -> list[str]:
        """POST /v1/reload: the manager re-reads functions.yml now, so the next request runs the new code."""
        transport = httpx.HTTPTransport(uds=str(self.tree.manager_socket))
        try:
            with httpx.Client(transport=transport, timeout=self.timeout_s) as client:
                answer = client.post("http://manager/v1/reload")
        except httpx.HTTPError as exc:
            raise ReloadFailed(f"manager did not answer the reload: {exc}") from exc
        if answer.status_code != 200:
            raise ReloadFailed(f"manager refused the reload ({answer.status_code}): {answer.text.strip()[:200]}")
        try:
            return list(answer.json().get("functions", []))
        except ValueError:
            return []

    def provision(self, app: Application) -> str:
        """Create what the template added (tables, buckets, queues, topics, ...); the provisioner never deletes."""
        from esb.box.provision import provision  # owned by the stores engineer; imported only when stores changed
        from esb_runtime import secrets as box_secrets

        state = boxstate.read(self.tree.state)
        if state is None:
            return "no box running: stores not provisioned"
        creds = box_secrets.load(self.tree.secrets / "box.json")
        report = provision(app, s3_endpoint=state.s3_endpoint, dynamodb_endpoint=state.dynamodb_endpoint,
                           credentials=creds, region=state.region or app.region,
                           services_endpoint=state.services_endpoint or None)
        return summarize(report)


def summarize(report: Any) -> str:
    """Only what changed, one resource a line ("table app-orders created"); the reset hint when needed."""
    lines = [f"{r.kind} {r.name} {r.status}" for r in getattr(report, "results", ()) if r.status != "unchanged"]
    if any(r.status == "changed-needs-reset" for r in getattr(report, "results", ())):
        lines.append("run `esb reset` to recreate resources marked changed-needs-reset (deletes their data)")
    return "\n".join(lines) or "no store changes"


class ReloadFailed(Exception):
    """The manager could not be told to reload (the watcher reports it and keeps going)."""
