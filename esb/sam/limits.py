"""Lambda's and API Gateway's documented limits, checked while loading so `esb build` refuses what AWS refuses."""

from __future__ import annotations

import re

# Lambda quotas (docs: "Lambda quotas", "Configuring function timeout").
MEMORY_MB = (128, 10240)
TIMEOUT_S = (1, 900)
# A resource path segment: static text, {param} or, as the last one only, a greedy {param+}.
_STATIC = re.compile(r"^[A-Za-z0-9._~:@!$&'()*,;=-]+$")
_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


def range_problem(name: str, value: int, bounds: tuple[int, int]) -> str | None:
    """'MemorySize must be between 128 and 10240, got 64', or None when it fits."""
    low, high = bounds
    if low <= value <= high:
        return None
    return f"{name} must be between {low} and {high}, got {value}"


def reserved_concurrency_problem(value: int) -> str | None:
    if value >= 0:
        return None
    return f"ReservedConcurrentExecutions must be 0 or more, got {value}"


def route_path_problem(path: str) -> str | None:
    """Why an API route path is not one API Gateway accepts, or None."""
    if path == "/":
        return None
    if not path.startswith("/"):
        return f"Path '{path}' must start with /"
    segments = path[1:].split("/")
    names: set[str] = set()
    for index, segment in enumerate(segments):
        if segment == "":
            return f"Path '{path}' has an empty segment"
        match = _PARAM.match(segment)
        if match is None:
            if not _STATIC.match(segment):
                return f"Path '{path}': segment '{segment}' is neither text nor {{name}}"
            continue
        name, greedy = match.groups()
        if greedy and index != len(segments) - 1:
            return f"Path '{path}': the greedy {segment} must be the last segment"
        if name in names:
            return f"Path '{path}' uses {{{name}}} twice"
        names.add(name)
    return None
