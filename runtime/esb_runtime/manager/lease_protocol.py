"""The lease wire format between a gateway worker and the manager: tab-separated lines on a unix socket.

One persistent connection per gateway worker. HTTP and JSON cost more than the invocation itself here (issue 14),
so each message is one short line:

    gateway → manager   A <seq> <function> <trace>           grant me a sandbox of <function>
                        R <sandbox> <outcome>                 done with it, outcome ok or error (no answer)
                        F <seq> <sandbox> <outcome>           done with it, it failed (crash, timeout): recycle
    manager → gateway   G <seq> <sandbox> <invoke url> <timeout s>
                        E <seq> <http status> <message>
                        D <seq>                               the failure is recorded (breaker) and the sandbox gone

A failure waits for D so that the caller's next request, on any gateway worker, meets the breaker it tripped.
A lease lives until its R or until the connection closes; then the manager recycles the sandbox, because a call
may still be running in it and the RIE must never see two at once.
"""

from __future__ import annotations

from dataclasses import dataclass

ACQUIRE, RELEASE, FAILED, GRANT, ERROR, DONE = "A", "R", "F", "G", "E", "D"
ABANDONED = "abandoned"  # the outcome of a lease whose holder went away: never reused, no verdict on the function


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def encode(*fields: object) -> bytes:
    return ("\t".join(_clean(str(field)) for field in fields) + "\n").encode()


def decode(line: bytes) -> list[str]:
    return line.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")


@dataclass(frozen=True)
class Grant:
    sandbox: str
    invoke_url: str
    timeout_s: int  # the function's Timeout: the caller's deadline for the RIE's answer
