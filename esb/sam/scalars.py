"""Scalar conversions the CloudFormation way: strings, numbers, booleans from template values."""

from __future__ import annotations

from typing import Any


def cfn_str(value: Any) -> str:
    """Stringify a scalar as CloudFormation does (true/false lower case, numbers as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if value is None:
        return ""
    raise TypeError(f"expected a string, got {type(value).__name__}")


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def to_int(value: Any) -> int:
    """An integer from 30, '30' or 30.0; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(f"'{value}' is not an integer")


def to_bool(value: Any) -> bool:
    """A boolean from true/false or their string forms; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"'{value}' is not true or false")
