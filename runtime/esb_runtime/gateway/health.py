"""GET /health: 200 while the manager and the stores answer, 503 naming which does not; briefly cached."""

from __future__ import annotations

import http.client
import json
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from esb_runtime.gateway.falcon_io import send
from esb_runtime.gateway.manager_client import ManagerClient
from esb_runtime.gateway.responses import ProxyResponse

if TYPE_CHECKING:
    import falcon

STORES_HEALTH_PATH = "/_esb/health"


def stores_probe(endpoint: str | None, timeout_s: float = 1.0) -> Callable[[], bool] | None:
    """A check that the embedded stores answer their health path (None: no stores endpoint to check)."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    host, port = parts.hostname, parts.port or 80
    if parts.scheme != "http" or not host:
        return None  # an external store (compose, https): not ours to judge

    def check() -> bool:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            conn.request("GET", STORES_HEALTH_PATH)
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    return check


class HealthCheck:
    """The health document and its status, recomputed at most every `ttl_s` (load balancers poll often)."""

    def __init__(self, manager: ManagerClient, stores: Callable[[], bool] | None, *, ttl_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._manager, self._stores, self._ttl_s, self._clock = manager, stores, ttl_s, clock
        self._cached: tuple[float, int, dict[str, Any]] | None = None

    def report(self) -> tuple[int, dict[str, Any]]:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl_s:
            return self._cached[1], self._cached[2]
        status, body = self._compute()
        self._cached = (now, status, body)
        return status, body

    def answer(self) -> ProxyResponse:
        status, body = self.report()
        return ProxyResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())

    def _compute(self) -> tuple[int, dict[str, Any]]:
        manager = self._manager.health()
        body: dict[str, Any] = {"manager": manager if manager is not None else {"status": "unreachable"}}
        down = [] if manager is not None else ["manager"]
        if self._stores is not None:
            stores_ok = self._stores()
            body["stores"] = {"status": "ok" if stores_ok else "unreachable"}
            down += [] if stores_ok else ["stores"]
        if not down:
            # "healthy" is what the seed's gateway answered; clients of it check that word.
            return 200, {"status": "healthy", **body}
        return 503, {"status": "unavailable", "reason": f"{' and '.join(down)} not answering (being restarted)",
                     **body}


class HealthResource:
    """/health for methods other than GET (which the data path answers): Falcon's 405."""

    def __init__(self, check: HealthCheck) -> None:
        self._check = check

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, self._check.answer())
