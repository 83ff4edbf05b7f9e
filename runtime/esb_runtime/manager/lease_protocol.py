"""The lease wire format between a gateway worker and the manager: tab-separated lines on a unix socket.

One persistent connection per gateway worker. HTTP and JSON cost more than the invocation itself here (issue 14),
so each message is one short line:

    gateway → manager   A <seq> <function> <trace>           grant me a sandbox of <function>
                        R <sandbox> <outcome>                 done with it, outcome ok or error (no answer)
                        F <seq> <sandbox> <outcome>           done with it, it failed (crash, timeout): recycle
    manager → gateway   G <seq> <sandbox> <invoke url> <timeout s> <keep>
                        E <seq> <http status> <message>
                        D <seq>                               the failure is recorded (breaker) and the sandbox gone
                        C <sandbox>                           recall: return that kept lease once it is idle

A failure waits for D so that the caller's next request, on any gateway worker, meets the breaker it tripped.
A lease lives until its R or until the connection closes; then the manager recycles the sandbox, because a call
may still be running in it and the RIE must never see two at once.

A grant with keep=1 may serve the holder's next calls of that function, one at a time, without a round trip: the
lease round trip was a third of a warm call's latency (issue 14). The holder returns it when it is idle for a
moment, when its own callers queue for that function, and when the manager recalls it (C: another caller waits
for a sandbox, the function was rebuilt). The sandbox's own begin marker attributes each call's log lines.
"""

from __future__ import annotations

from dataclasses import dataclass

ACQUIRE, RELEASE, FAILED, GRANT, ERROR, DONE, RECALL = "A", "R", "F", "G", "E", "D", "C"
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
    keep: bool = False  # the holder may keep it across calls (not a breaker's trial, nor after a failure)
