"""The manager API's routes table, called in-process as WSGI: statuses and error bodies the gateway and CLI read."""

from __future__ import annotations

import io
import json
from typing import Any

from esb_runtime.errors import FunctionNotFound, TooManyRequests
from esb_runtime.manager.api import create_app
from esb_runtime.manager.wsgi_routes import Reply, Request, Routes


def call(app: Any, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One request through a WSGI app, as the manager's server hands it over (PATH_INFO decoded, as latin-1)."""
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path.encode().decode("latin-1"),
                               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    seen: dict[str, Any] = {}

    def start_response(status: str, head: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(head)

    out = b"".join(app(environ, start_response))
    assert int(seen["headers"]["Content-Length"]) == len(out)
    return seen["status"], seen["headers"], out


class FakeManager:
    """Only what the routes call; acquire refuses like the real pool does."""

    def acquire(self, name: str) -> Any:
        raise TooManyRequests(f"{name}: every sandbox busy") if name == "busy" else FunctionNotFound(name)

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}

    def sandboxes(self) -> list[dict[str, Any]]:
        raise RuntimeError("a bug")


def test_fields_match_one_segment_and_arrive_decoded() -> None:
    app = Routes({"/v1/functions/{name}/invoke": {"POST": lambda req: Reply(200, req.params["name"].encode()
                                                                             + b":" + req.body())}})
    assert call(app, "POST", "/v1/functions/fünf/invoke", b"x")[::2] == (200, "fünf:x".encode())
    assert call(app, "POST", "/v1/functions/a/b/invoke")[0] == 404
    assert call(app, "POST", "/v1/functions//invoke")[0] == 404


def test_headers_are_read_by_name() -> None:
    app = Routes({"/h": {"GET": lambda req: Reply.of_json([req.header("X-Esb-Trace-Id"), req.header("X-None")])}})
    status, headers, body = call(app, "GET", "/h", **{"X-Esb-Trace-Id": "Root=1"})
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", ["Root=1", None])


def test_unknown_path_404_wrong_method_405_in_the_error_shape() -> None:
    app = create_app(FakeManager())  # type: ignore[arg-type]
    status, _, body = call(app, "GET", "/v1/nope")
    assert status == 404 and json.loads(body)["error"] == "NotFound"
    status, _, body = call(app, "GET", "/v1/acquire")
    assert status == 405 and "POST" in json.loads(body)["message"]
    assert call(app, "DELETE", "/v1/health")[0] == 405
    assert call(app, "GET", "/v1/health")[::2] == (200, b'{"status": "ok"}')


def test_bad_json_400_and_runtime_errors_keep_their_status_and_code() -> None:
    app = create_app(FakeManager())  # type: ignore[arg-type]
    for body in (b"{not json", b"[1]", b'{"function": 3}'):
        status, _, answer = call(app, "POST", "/v1/acquire", body)
        assert status == 400 and json.loads(answer)["error"] == "InvalidRequestContentException"
    status, _, answer = call(app, "POST", "/v1/acquire", b'{"function": "busy"}')
    assert (status, json.loads(answer)) == (429, {"error": "TooManyRequestsException",
                                                  "message": "busy: every sandbox busy"})
    assert call(app, "POST", "/v1/acquire", b'{"function": "gone"}')[0] == 404
    status, _, answer = call(app, "POST", "/v1/functions/fn/invoke", b"{}", **{"X-Esb-Invocation-Type": "Later"})
    assert status == 400 and "Later" in json.loads(answer)["message"]


def test_a_bug_in_a_handler_is_a_500_not_a_dropped_connection() -> None:
    app = create_app(FakeManager())  # type: ignore[arg-type]
    status, _, answer = call(app, "GET", "/v1/sandboxes")
    assert (status, json.loads(answer)["error"]) == (500, "ServiceException")


def test_empty_bodies_are_read_as_an_empty_object() -> None:
    seen: list[bytes] = []

    def handler(req: Request) -> Reply:
        seen.append(req.body())
        return Reply(204)

    assert call(Routes({"/r": {"POST": handler}}), "POST", "/r")[::2] == (204, b"")
    assert seen == [b""]
