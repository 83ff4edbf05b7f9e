"""Turn one sandbox output line into a log record (docs/architecture.md "Log records")."""

from __future__ import annotations

import json
import math
import re
import time as _time
from datetime import datetime, timezone
from typing import Any

CORE_FIELDS = ("time", "level", "source", "function", "sandbox", "request_id", "trace_id", "message")

_REQUEST_LINE = re.compile(r"^(START|END|REPORT) RequestId: ([0-9a-fA-F-]+)")
_METRICS = {
    "Init Duration": "init_ms",
    "Duration": "duration_ms",
    "Billed Duration": "billed_ms",
    "Memory Size": "memory_mb",
    "Max Memory Used": "max_memory_mb",
}
_METRIC = re.compile(r"(Init Duration|Billed Duration|Duration|Memory Size|Max Memory Used): ([0-9.]+)")
# The RIE's own diagnostics: "28 Nov 2026 12:28:50,144 [INFO] (rapid) message"
_RAPID = re.compile(r"^\d{1,2} \w{3} \d{4} [\d:,]+ \[(\w+)\] \(rapid\) ?(.*)$")
# awslambdaric's text format: "[LEVEL]\t<time>\t<request id>\t<message>"
_RIC_TEXT = re.compile(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]\t[^\t]*\t([^\t]*)\t(.*)$", re.S)
_RIC_ERROR = re.compile(r"^\[(ERROR|WARNING)\] (.*)$", re.S)
_ROOT = re.compile(r"(?:^|;)\s*Root=([^;\s]+)")


def trace_root(header: str | None) -> str | None:
    """The Root= value of an X-Amzn-Trace-Id value (records carry only the root)."""
    if not header:
        return None
    match = _ROOT.search(header)
    return match.group(1) if match else header.strip()


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, the format of every record's `time`."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


_second: tuple[int, str] = (-1, "")  # the last second formatted: records come many per second


def rfc3339(epoch: float) -> str:
    """format_time of an epoch, with the date and time part formatted once per second (strftime was a tenth of
    the manager's time per call, issue 14)."""
    global _second
    fraction, whole = math.modf(epoch)  # split as datetime.fromtimestamp splits it, so both agree to the ms
    micro = round(fraction * 1_000_000)
    second = int(whole) + (micro >= 1_000_000)
    fraction = micro % 1_000_000
    cached = _second
    if cached[0] != second:
        cached = (second, _time.strftime("%Y-%m-%dT%H:%M:%S.", _time.gmtime(second)))
        _second = cached
    return f"{cached[1]}{fraction // 1000:03d}Z"


def _level(value: object) -> str:
    text = str(value).lower()
    return "warn" if text == "warning" else text


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _request_line(kind: str, request_id: str, line: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"level": "info", "message": line.rstrip("\t "), "request_id": request_id}
    fields["event"] = kind
    if kind == "REPORT":
        for label, value in _METRIC.findall(line):
            fields[_METRICS[label]] = _number(value)
    return fields


def _json_line(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    fields = {k: v for k, v in data.items() if k not in CORE_FIELDS}
    level = data.get("level", data.get("levelname", "info"))
    fields["level"] = _level(level)
    message = data.get("message", data.get("msg"))
    fields["message"] = message if isinstance(message, str) else line
    request_id = data.get("requestId") or data.get("request_id")
    if isinstance(request_id, str) and request_id:
        fields["request_id"] = request_id
    return fields


def parse_line(line: str) -> dict[str, Any]:
    """Level, message and whatever the line itself says (request id, metrics, the handler's JSON fields)."""
    match = _REQUEST_LINE.match(line)
    if match:
        return _request_line(match.group(1), match.group(2), line)
    parsed = _json_line(line)
    if parsed is not None:
        return parsed
    match = _RAPID.match(line)
    if match:
        # The emulator's INFO chatter is noise for a function's owner: keep it, at debug.
        level = _level(match.group(1))
        return {"level": "debug" if level == "info" else level, "message": match.group(2), "logger": "rie"}
    match = _RIC_TEXT.match(line)
    if match:
        fields: dict[str, Any] = {"level": _level(match.group(1)), "message": match.group(3)}
        if match.group(2):
            fields["request_id"] = match.group(2)
        return fields
    match = _RIC_ERROR.match(line)
    if match:
        return {"level": _level(match.group(1)), "message": line}
    return {"level": "info", "message": line}


def build_record(
    line: str,
    *,
    function: str | None,
    sandbox: str | None,
    request_id: str | None,
    trace_id: str | None,
    source: str = "sandbox",
    when: float | None = None,
) -> dict[str, Any]:
    """One record for one line; the line's own request id (START/END/REPORT, logger) wins over the lease's."""
    # awslambdaric keeps a multi-line message (a traceback) on one stdout line with \r between its lines,
    # as Lambda does so CloudWatch keeps it as one event: one record, with its line breaks restored.
    fields = parse_line(line.replace("\r\n", "\n").replace("\r", "\n"))
    record: dict[str, Any] = {
        "time": rfc3339(_time.time() if when is None else when),
        "level": fields.pop("level"),
        "source": source,
        "function": function,
        "sandbox": sandbox,
        "request_id": fields.pop("request_id", None) or request_id,
        "trace_id": trace_root(trace_id),
        "message": fields.pop("message"),
    }
    record.update(fields)
    return record


def manager_record(message: str, *, level: str = "info", function: str | None = None,
                   sandbox: str | None = None, when: float | None = None, **extra: Any) -> dict[str, Any]:
    """A record the manager writes about itself (sandbox started, stopped, recycled)."""
    record: dict[str, Any] = {
        "time": rfc3339(_time.time() if when is None else when),
        "level": level,
        "source": "manager",
        "function": function,
        "sandbox": sandbox,
        "request_id": extra.pop("request_id", None),
        "trace_id": trace_root(extra.pop("trace_id", None)),
        "message": message,
    }
    record.update(extra)
    return record
