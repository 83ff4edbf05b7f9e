"""Who may connect to a sandbox's RIE ports: netfilter rules matching the connecting socket's owner uid.

Why owner-match rules: the RIE only listens on TCP, so an unauthenticated loopback port is the thing to guard;
a netfilter rule on the SYN holds against every local process (not only function code), costs nothing per
warm call (kept-alive connections send no new SYN), and leaves the RIE and its ports exactly as they are.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

from esb_runtime.errors import EngineError
from esb_runtime.names_digest import sha256_hex

log = logging.getLogger(__name__)

CHAIN_PREFIX = "ESB-"
# Only new connections over loopback are looked at: replies and established traffic never enter the chain.
JUMP = ("-o", "lo", "-p", "tcp", "--syn")


def chain_name(output_dir: Path) -> str:
    """One chain per box, named from its output tree (iptables allows 28 characters)."""
    return CHAIN_PREFIX + sha256_hex(str(Path(output_dir).resolve()))[:16]


@dataclass(frozen=True)
class Grant:
    """One sandbox's ports: the invoke port for the box's services, the runtime-API port for its function."""

    sandbox: str
    invoke_port: int
    api_port: int
    function_uid: int  # the sandbox's own uid: one per slot, so a sibling sandbox is refused too (identities.py)


class Firewall(Protocol):
    def open(self) -> None:
        """Create the box's chain empty (dropping a crashed predecessor's rules) and hook it in once."""
        ...

    def allow(self, grant: Grant) -> None:
        """Close the grant's ports to everyone but the services and its function; before its RIE starts."""
        ...

    def revoke(self, sandbox: str) -> None:
        """Remove one sandbox's rules (after it stopped); unknown ids are ignored."""
        ...

    def close(self) -> None:
        """Unhook and delete the chain; idempotent."""
        ...


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def grant_rules(chain: str, grant: Grant, service_uids: Sequence[int]) -> list[list[str]]:
    """The rule specs (after `-A chain`): services to the invoke port, the function to its API port, others reset."""
    rules: list[list[str]] = []
    tag = ["-m", "comment", "--comment", grant.sandbox]
    for port, uids in ((grant.invoke_port, service_uids), (grant.api_port, [grant.function_uid])):
        match = ["-p", "tcp", "--dport", str(port)]
        rules += [[*match, "-m", "owner", "--uid-owner", str(uid), *tag, "-j", "RETURN"] for uid in uids]
        rules.append([*match, *tag, "-j", "REJECT", "--reject-with", "tcp-reset"])
    return [[chain, *rule] for rule in rules]


class IptablesFirewall:
    """The rules through `iptables`/`iptables-restore` (argument lists; one exec per sandbox start and stop)."""

    def __init__(self, chain: str, service_uids: Sequence[int], *, iptables: str = "iptables",
                 runner: Runner = subprocess.run) -> None:
        self.chain, self.service_uids = chain, tuple(dict.fromkeys(service_uids))
        self.iptables, self.runner = iptables, runner
        self._lock = threading.Lock()
        self._rules: dict[str, list[list[str]]] = {}

    def _run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> bool:
        try:
            done = self.runner(argv, input=stdin, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise EngineError(f"cannot run {argv[0]}: {exc}") from exc
        if done.returncode != 0 and check:
            detail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise EngineError(f"{' '.join(argv[:4])}: {detail[0]}")
        return done.returncode == 0

    def _table(self, *args: str, check: bool = True) -> bool:
        return self._run([self.iptables, "-w", *args], check=check)

    def open(self) -> None:
        with self._lock:
            if not self._table("-N", self.chain, check=False):
                self._table("-F", self.chain)  # a crashed manager's chain: start from nothing
            if not self._table("-C", "OUTPUT", *JUMP, "-j", self.chain, check=False):
                self._table("-I", "OUTPUT", "1", *JUMP, "-j", self.chain)
            self._rules.clear()

    def _restore(self, op: str, rules: list[list[str]]) -> None:
        lines = ["*filter", *(" ".join([op, *rule]) for rule in rules), "COMMIT", ""]
        self._run([self.iptables + "-restore", "-w", "5", "--noflush"], stdin="\n".join(lines))

    def allow(self, grant: Grant) -> None:
        rules = grant_rules(self.chain, grant, self.service_uids)
        with self._lock:
            self._restore("-A", rules)
            self._rules[grant.sandbox] = rules

    def revoke(self, sandbox: str) -> None:
        with self._lock:
            rules = self._rules.pop(sandbox, None)
            if rules:
                self._restore("-D", rules)

    def close(self) -> None:
        with self._lock:
            remove_chain(self.chain, self.iptables, self.runner)
            self._rules.clear()


def remove_chain(chain: str, iptables: str = "iptables", runner: Runner = subprocess.run) -> bool:
    """Unhook and delete `chain` (box down, also after a crashed manager); True when there was one."""
    def run(*args: str) -> bool:
        try:
            done = runner([iptables, "-w", *args], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    for _ in range(16):  # every jump, should an earlier bug have added more than one
        if not run("-D", "OUTPUT", *JUMP, "-j", chain):
            break
    found = run("-F", chain)
    run("-X", chain)
    return found


def iptables_missing(which: Callable[[str], str | None] = shutil.which) -> bool:
    return which("iptables") is None or which("iptables-restore") is None


class FakeFirewall:
    """In memory, for unit tests: the grants in force (opening and closing the chain drops them all)."""

    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}

    def open(self) -> None:
        self.grants.clear()

    def allow(self, grant: Grant) -> None:
        self.grants[grant.sandbox] = grant

    def revoke(self, sandbox: str) -> None:
        self.grants.pop(sandbox, None)

    def close(self) -> None:
        self.grants.clear()
