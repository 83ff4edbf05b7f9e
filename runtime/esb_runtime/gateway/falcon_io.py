"""Writing ProxyResponses to Falcon's response objects (the box's own APIs, gateway/control.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esb_runtime.gateway.responses import ProxyResponse

if TYPE_CHECKING:
    import falcon


def send(resp: falcon.Response, response: ProxyResponse, extra: list[tuple[str, str]] | None = None) -> None:
    resp.status = response.status
    for name, value in response.headers:
        resp.append_header(name, value)
    for name, value in extra or ():
        resp.set_header(name, value)
    resp.data = response.body
