"""The manager's entry module on the process engine loads no web framework, TLS, OpenSSL hashing or email parsing
(issue 14: RSS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("falcon", "ssl", "http.client", "email.parser", "asyncio", "werkzeug", "boto3", "docker", "_hashlib",
         "secrets", "gevent.pywsgi", "email.utils")
SCRIPT = f"""
import json, sys
import esb_runtime.manager.__main__
import gevent.server  # what make_server imports when the manager serves
from gevent import monkey
print(json.dumps({{"loaded": [m for m in {HEAVY!r} if m in sys.modules],
                   "socket_patched": monkey.is_module_patched("socket")}}))
"""


# ssl stays patched (so imported) wherever the manager may make a TLS call: the docker SDK may reach a remote daemon
# over TLS, and a VictoriaLogs or stores URL may be https.
@pytest.mark.parametrize("env, loaded", [
    ({"ESB_ENGINE": "process", "ESB_SERVICES_ENDPOINT": "http://127.0.0.1:4566"}, []),
    ({"ESB_ENGINE": "docker"}, ["ssl"]),
    ({"ESB_ENGINE": "process", "ESB_VICTORIALOGS_URL": "HTTPS://logs.example:9428"}, ["ssl"]),
])
def test_the_manager_imports_at_idle(env: dict[str, str], loaded: list[str]) -> None:
    out = json.loads(subprocess.run([sys.executable, "-c", SCRIPT], env={"PATH": os.environ.get("PATH", ""), **env},
                                    capture_output=True, text=True, check=True).stdout)
    assert out == {"loaded": loaded, "socket_patched": True}
