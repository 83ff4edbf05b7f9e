"""doit task: fetch and verify the genuine AWS Lambda RIE into the user cache."""

from __future__ import annotations

import os
from typing import Any

from esb.paths import cache_dir
from esb.build.rie import cache_valid, ensure_rie, host_arch


def _fetch() -> None:
    ensure_rie(cache_dir(), explicit=os.environ.get("ESB_RIE_PATH") or None)


def _uptodate() -> bool:
    if os.environ.get("ESB_RIE_PATH"):
        return True
    return cache_valid(cache_dir(), host_arch())


def rie_task() -> dict[str, Any]:
    return {
        "actions": [_fetch],
        "uptodate": [_uptodate],
        "verbosity": 1,
    }
