"""End to end: what a running box's processes load, idle and after a sign-in and an authorized call (issue 14).

Read from /proc/PID/maps (the shared libraries each process mapped), so it holds for the processes `esb up`
started, whatever imported what inside them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from boxkit import copy_app, running_box

pytestmark = pytest.mark.integration

LIBCRYPTO = ("libcrypto.so", "/_hashlib.", "/_ssl.")  # OpenSSL, by hashlib or ssl
CRYPTOGRAPHY = "/cryptography/hazmat/bindings/_rust"  # PyJWT's RSA (with its own OpenSSL built in)


def mapped(pid: int, needles: tuple[str, ...] | str) -> list[str]:
    found = {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
             if any(needle in line for needle in ((needles,) if isinstance(needles, str) else needles))}
    return sorted(found)


def test_the_manager_never_maps_openssl_and_the_gateway_cryptography_only_after_a_token(tmp_path: Path) -> None:
    with running_box(copy_app("sample", tmp_path)) as box:
        pid = {proc["name"]: proc["pid"] for proc in box.refresh()["processes"]}
        assert box.client.get("/hello").status_code == 200
        assert mapped(pid["gateway"], CRYPTOGRAPHY) == []
        token = box.token()
        answer = box.client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        assert mapped(pid["gateway"], CRYPTOGRAPHY) != []  # signed and verified: loaded on first use
        assert mapped(pid["manager"], LIBCRYPTO) == []  # after starting sandboxes and serving calls too
