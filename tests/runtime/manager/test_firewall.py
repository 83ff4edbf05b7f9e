"""The RIE port firewall: rule shapes (fake runner), and real iptables rules as root (who connects, who is reset)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from esb_runtime.errors import EngineError
from esb_runtime.manager.firewall import (JUMP, Grant, IptablesFirewall, chain_name, grant_rules, remove_chain)
from esb_runtime.manager.isolation import guard_ports
from esb_runtime.settings import RuntimeSettings
from tools import need_tool

GRANT = Grant(sandbox="sb-1", invoke_port=40001, api_port=40002, function_uid=64003)


class Recorder:
    """A subprocess.run stand-in: records argv (and stdin), answers with the given return codes."""

    def __init__(self, codes: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.codes = codes or {}

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((argv, kwargs.get("input")))
        code = self.codes.get(argv[2] if len(argv) > 2 else "", 0)
        return subprocess.CompletedProcess(argv, code, "", "iptables: No chain/target/match by that name." if code else "")


def test_chain_name_is_short_stable_and_per_box(tmp_path: Path) -> None:
    one, other = chain_name(tmp_path / "a" / ".esb"), chain_name(tmp_path / "b" / ".esb")
    assert one == chain_name(tmp_path / "a" / ".esb") and one != other
    assert one.startswith("ESB-") and len(one) <= 28


def test_grant_rules_let_the_services_to_the_invoke_port_and_the_function_to_its_api_port() -> None:
    rules = grant_rules("ESB-x", GRANT, [0, 1000])
    as_text = [" ".join(rule) for rule in rules]
    assert as_text == [
        "ESB-x -p tcp --dport 40001 -m owner --uid-owner 0 -m comment --comment sb-1 -j RETURN",
        "ESB-x -p tcp --dport 40001 -m owner --uid-owner 1000 -m comment --comment sb-1 -j RETURN",
        "ESB-x -p tcp --dport 40001 -m comment --comment sb-1 -j REJECT --reject-with tcp-reset",
        "ESB-x -p tcp --dport 40002 -m owner --uid-owner 64003 -m comment --comment sb-1 -j RETURN",
        "ESB-x -p tcp --dport 40002 -m comment --comment sb-1 -j REJECT --reject-with tcp-reset",
    ]


def test_open_creates_or_flushes_the_chain_and_hooks_it_once() -> None:
    fresh = Recorder(codes={"-C": 1})
    IptablesFirewall("ESB-x", [0], runner=fresh).open()
    assert [argv[2:] for argv, _ in fresh.calls] == [
        ["-N", "ESB-x"], ["-C", "OUTPUT", *JUMP, "-j", "ESB-x"], ["-I", "OUTPUT", "1", *JUMP, "-j", "ESB-x"]]
    left_over = Recorder(codes={"-N": 1})  # a crashed manager's chain and jump are still there
    IptablesFirewall("ESB-x", [0], runner=left_over).open()
    assert [argv[2:] for argv, _ in left_over.calls] == [
        ["-N", "ESB-x"], ["-F", "ESB-x"], ["-C", "OUTPUT", *JUMP, "-j", "ESB-x"]]


def test_allow_and_revoke_are_one_restore_each_and_revoke_forgets() -> None:
    runner = Recorder()
    firewall = IptablesFirewall("ESB-x", [0], runner=runner)
    firewall.allow(GRANT)
    firewall.revoke("sb-1")
    firewall.revoke("sb-1")  # already gone: nothing to run
    assert [argv for argv, _ in runner.calls] == [["iptables-restore", "-w", "5", "--noflush"]] * 2
    added, removed = (stdin or "" for _, stdin in runner.calls)
    assert added.startswith("*filter\n-A ESB-x -p tcp --dport 40001") and added.endswith("COMMIT\n")
    assert removed == added.replace("-A ESB-x", "-D ESB-x")


def test_a_failing_tool_is_an_engine_error_naming_it() -> None:
    firewall = IptablesFirewall("ESB-x", [0], runner=Recorder(codes={"5": 2}))
    with pytest.raises(EngineError, match="iptables-restore"):
        firewall.allow(GRANT)


def test_without_iptables_the_ports_stay_open_with_a_note(tmp_path: Path) -> None:
    settings = RuntimeSettings(output_dir=tmp_path, manager_socket=tmp_path / "m.sock", rie_path=None)
    firewall, note = guard_ports(settings, missing=lambda: True)
    assert firewall is None and note is not None
    assert "RIE ports" in note and "iptables" in note and "--engine docker" in note


# Real rules: root and iptables (CI runs as root with iptables from docker.io).

def _connect_as(uid: int | None, port: int) -> str:
    """'ok' or the errno name of a TCP connect to 127.0.0.1:port, from a process running as `uid`."""
    code = ("import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3).close()"
            "\n print('ok')\nexcept OSError as e:\n print(type(e).__name__)")
    extra: dict[str, Any] = {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}
    done = subprocess.run(["/usr/bin/python3", "-c", code, str(port)], capture_output=True, text=True, timeout=20,
                          cwd="/", **extra)
    return done.stdout.strip() or done.stderr.strip()


@pytest.fixture
def real_chain(tmp_path: Path) -> Iterator[str]:
    need_tool(os.geteuid() == 0, "the firewall needs root (CI runs as root)")
    need_tool(shutil.which("iptables") is not None and os.path.exists("/usr/bin/python3"),
              "iptables (and /usr/bin/python3) are not installed here")
    chain = chain_name(tmp_path)
    yield chain
    remove_chain(chain)


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def _jumps(chain: str) -> int:
    rules = subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in rules.splitlines() if line.endswith(f"-j {chain}"))


def test_real_rules_admit_the_service_and_the_function_and_reset_everyone_else(real_chain: str) -> None:
    invoke, api = _listener(), _listener()
    with invoke, api:
        firewall = IptablesFirewall(real_chain, [0])
        firewall.open()
        firewall.open()  # a restarted manager: still one jump, an empty chain
        assert _jumps(real_chain) == 1
        grant = Grant("sb-real", invoke.getsockname()[1], api.getsockname()[1], function_uid=64990)
        firewall.allow(grant)
        assert _connect_as(None, grant.invoke_port) == "ok"  # the box's own uid (root here)
        assert _connect_as(64990, grant.invoke_port) == "ConnectionRefusedError"  # its function: not the RIE
        assert _connect_as(64990, grant.api_port) == "ok"
        assert _connect_as(64991, grant.api_port) == "ConnectionRefusedError"  # another function
        assert _connect_as(64991, grant.invoke_port) == "ConnectionRefusedError"
        firewall.revoke("sb-real")
        assert _connect_as(64991, grant.invoke_port) == "ok"
        firewall.close()
    assert _jumps(real_chain) == 0
    assert subprocess.run(["iptables", "-w", "-S", real_chain], capture_output=True).returncode != 0
