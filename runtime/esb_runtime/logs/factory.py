"""Open the log store a box's settings name: the local JSON-lines files or VictoriaLogs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esb_runtime.logs.stores import JsonLinesStore, LogStore, parse_owner
from esb_runtime.logs.victorialogs import VictoriaLogsStore

if TYPE_CHECKING:
    from esb_runtime.settings import RuntimeSettings


def open_store(settings: RuntimeSettings) -> LogStore:
    """The log store the settings name: `local` (JSON lines under logs/) or `victorialogs`."""
    if settings.log_store == "victorialogs":
        if not settings.victorialogs_url:
            raise ValueError("ESB_LOG_STORE=victorialogs needs ESB_VICTORIALOGS_URL")
        return VictoriaLogsStore(settings.victorialogs_url)
    if settings.log_store != "local":
        raise ValueError(f"unknown log store {settings.log_store!r} (expected local or victorialogs)")
    return JsonLinesStore(settings.logs_dir, owner=parse_owner(settings.log_owner))
