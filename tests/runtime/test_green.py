"""The gevent processes' monkey-patching: every module patched, subscribers told, no scan of installed packages."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import zope.event
seen = []
zope.event.subscribers.append(lambda event: seen.append(type(event).__name__))
from esb_runtime import green
green.patch_all()
from gevent import events, monkey
print(json.dumps({
    "patched": [m for m in ("socket", "ssl", "threading", "subprocess", "select") if monkey.is_module_patched(m)],
    "told": "GeventDidPatchAllEvent" in seen,
    "metadata_loaded": "importlib.metadata" in sys.modules,
    "hook_restored": events.notify_and_call_entry_points.__name__,
}))
"""


def test_patch_all_patches_and_tells_subscribers_without_reading_package_metadata() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout)
    assert out == {"patched": ["socket", "ssl", "threading", "subprocess", "select"], "told": True,
                   "metadata_loaded": False, "hook_restored": "notify_and_call_entry_points"}


WORKER = """
import json
from importlib import metadata
scans = []
real = metadata.entry_points
metadata.entry_points = lambda **kw: scans.append(kw) or real(**kw)
from esb_runtime.gateway.worker import GatewayWorker

class Worker(GatewayWorker):
    def __init__(self):
        self.sockets = []

Worker().patch()
from gevent import monkey
print(json.dumps({"socket_patched": monkey.is_module_patched("socket"), "scans": len(scans)}))
"""


def test_the_gateway_worker_patches_the_same_way() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, check=True).stdout)
    assert out == {"socket_patched": True, "scans": 0}


LEAVE_SSL = """
import json, sys
from esb_runtime import green
green.patch_all(leave=("ssl",))
from gevent import monkey
print(json.dumps({"ssl_loaded": "ssl" in sys.modules, "socket_patched": monkey.is_module_patched("socket")}))
"""


def test_patch_all_leaves_ssl_alone_when_asked_and_does_not_import_it() -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", LEAVE_SSL], capture_output=True, text=True,
                                    check=True).stdout)
    assert out == {"ssl_loaded": False, "socket_patched": True}
