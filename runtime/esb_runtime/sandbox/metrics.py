"""An invocation's true figures, measured inside the sandbox and folded into the RIE's REPORT record.

The RIE's REPORT is wrong for us: Init Duration ~0 (its init is lazy, inside the first invoke), Duration of a
cold call includes the init, Max Memory Used = Memory Size. The sandbox bootstrap measures them itself and
writes one marker line before it answers (bootstrap.measured_line); the manager's log pump takes it (never a
record) and rewrites the REPORT that follows."""

from __future__ import annotations

import json
import math
from typing import Any

from esb_runtime.sandbox.bootstrap import METRICS_MARKER as MARKER


def parse(line: str) -> dict[str, Any] | None:
    """The figures of a marker line (floats, and `request_id` when the sandbox said it), None for any other line."""
    if not line.startswith(MARKER):
        return None
    try:
        data = json.loads(line[len(MARKER):])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    figures: dict[str, Any] = {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}
    if isinstance(data.get("request_id"), str):
        figures["request_id"] = data["request_id"]
    return figures


def billed_ms(duration_ms: float) -> int:
    """Lambda bills in 1 ms steps, rounding up (a 0.2 ms call bills 1 ms)."""
    return max(1, math.ceil(duration_ms))


def true_report(record: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """The REPORT record with the measured figures, its message in AWS's order (Init Duration last, cold only)."""
    duration = figures["duration_ms"]
    fixed = {**record, "duration_ms": duration, "billed_ms": billed_ms(duration),
             "max_memory_mb": int(figures["max_memory_mb"])}
    fixed.pop("init_ms", None)
    parts = [f"REPORT RequestId: {record.get('request_id')}", f"Duration: {duration:.2f} ms",
             f"Billed Duration: {fixed['billed_ms']} ms", f"Memory Size: {record.get('memory_mb', '-')} MB",
             f"Max Memory Used: {fixed['max_memory_mb']} MB"]
    if "init_ms" in figures:
        fixed["init_ms"] = figures["init_ms"]
        parts.append(f"Init Duration: {figures['init_ms']:.2f} ms")
    fixed["message"] = "\t".join(parts)
    return fixed
