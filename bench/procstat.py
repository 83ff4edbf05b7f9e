"""CPU time and RSS of process trees from /proc (Linux), for the benchmarks' per-request CPU and idle memory."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the state on (the name may hold spaces)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def descendants(pid: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """pid and every process below it."""
    tree = _children() if tree is None else tree
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, []))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (not its children)."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def rss_mb(pid: int) -> float:
    fields = _stat(pid)
    return 0.0 if fields is None else int(fields[21]) * _PAGE / 1e6


def role(pid: int) -> str:
    """Which part of a box (or the bare RIE) a process is, from its command line."""
    cmd = cmdline(pid)
    for needle, name in (("aws-lambda-rie", "rie"), ("sandbox.bootstrap", "runtime"), ("awslambdaric", "runtime"),
                         ("esb_bootstrap.py", "runtime"),
                         ("gunicorn", "gateway"), ("esb_runtime.gateway", "gateway"), ("esb_runtime.manager", "manager"),
                         ("esb_runtime.stores", "stores"), ("esb.", "supervisor")):
        if needle in cmd:
            return name
    return "other"


def snapshot(roots: list[int]) -> dict[int, tuple[str, float, float]]:
    """pid -> (role, cpu seconds, rss MB) for every process under the roots."""
    tree = _children()
    pids = {pid for root in roots for pid in descendants(root, tree)}
    return {pid: (role(pid), cpu_seconds(pid), rss_mb(pid)) for pid in pids}


def cpu_by_role(before: dict[int, tuple[str, float, float]],
                after: dict[int, tuple[str, float, float]]) -> dict[str, float]:
    """CPU seconds spent per role between two snapshots (processes born in between count in full)."""
    out: dict[str, float] = {}
    for pid, (name, cpu, _) in after.items():
        spent = cpu - (before[pid][1] if pid in before else 0.0)
        out[name] = out.get(name, 0.0) + spent
    return out


def rss_by_role(snap: dict[int, tuple[str, float, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, _, rss in snap.values():
        out[name] = out.get(name, 0.0) + rss
    return out


def smaps_mb(pid: int) -> dict[str, float]:
    """RSS, PSS (shared pages split among their users) and USS (pages only this process holds), in MB."""
    fields: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[name] = int(rest.split()[0]) / 1024
    except OSError:
        return {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    uss = fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)
    return {"rss": fields.get("Rss", 0.0), "pss": fields.get("Pss", 0.0), "uss": uss}


def memory_by_role(pids: list[int]) -> dict[str, dict[str, float]]:
    """role -> {"rss", "pss", "uss"} summed over the pids."""
    out: dict[str, dict[str, float]] = {}
    for pid in pids:
        total = out.setdefault(role(pid), {"rss": 0.0, "pss": 0.0, "uss": 0.0})
        for key, value in smaps_mb(pid).items():
            total[key] += value
    return out


def _shared_by_mapping(pid: int) -> dict[str, float]:
    """MB of shared pages per mapped file ("[anon]" for anonymous memory) of one process."""
    out: dict[str, float] = {}
    current = "[anon]"
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        head = line.split(maxsplit=5)
        if head and "-" in head[0] and not head[0].endswith(":"):  # a mapping's header line
            current = head[5] if len(head) > 5 and head[5].startswith("/") else "[anon]"
        elif head and head[0] in ("Shared_Clean:", "Shared_Dirty:"):
            out[current] = out.get(current, 0.0) + int(head[1]) / 1024
    return out


def footprint_mb(pids: list[int]) -> float:
    """Memory the processes hold between them, each shared page counted once: their USS plus, per mapped
    file, the largest shared part any of them maps (an estimate: PSS on a busy machine splits a library's pages
    with unrelated processes too, RSS counts them once per process)."""
    shared: dict[str, float] = {}
    for pid in pids:
        for path, mb in _shared_by_mapping(pid).items():
            shared[path] = max(shared.get(path, 0.0), mb)
    return sum(smaps_mb(pid)["uss"] for pid in pids) + sum(shared.values())
