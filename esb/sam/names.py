"""AWS's own rules for resource names, checked at load: a name is a directory in the output tree, so it must be one."""

from __future__ import annotations

import re

# Lambda CreateFunction / PublishLayerVersion, DynamoDB CreateTable, S3 "Bucket naming rules".
_FUNCTION = (re.compile(r"[A-Za-z0-9_-]+"), 1, 64, "letters, digits, - and _")
_LAYER = (re.compile(r"[A-Za-z0-9_-]+"), 1, 140, "letters, digits, - and _")
_TABLE = (re.compile(r"[A-Za-z0-9_.-]+"), 3, 255, "letters, digits, _, - and .")
_BUCKET = (re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]"), 3, 63,
           "lower-case letters, digits, . and -, starting and ending with a letter or digit")
_RULES = {"FunctionName": _FUNCTION, "LayerName": _LAYER, "TableName": _TABLE, "BucketName": _BUCKET}
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def name_problem(prop: str, name: str) -> str | None:
    """Why `name` is not a valid `prop` (FunctionName, LayerName, TableName, BucketName) on AWS, or None."""
    rule = _RULES.get(prop)
    if rule is None:
        return None
    pattern, low, high, allowed = rule
    shown = name if len(name) <= 70 else name[:67] + "..."
    if not low <= len(name) <= high:
        return f"{prop} {shown!r} must be {low} to {high} characters long, not {len(name)}"
    if not pattern.fullmatch(name):
        return f"{prop} {shown!r} may contain only {allowed}"
    if prop == "BucketName":
        return _bucket_problem(name)
    if prop == "TableName" and set(name) <= {"."}:
        return f"TableName {name!r} is not a name"  # "." and ".." would leave the output tree
    return None


def _bucket_problem(name: str) -> str | None:
    if ".." in name:
        return f"BucketName {name!r} must not contain two adjacent periods"
    if _IP.fullmatch(name):
        return f"BucketName {name!r} must not be formatted as an IP address"
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return f"BucketName {name!r} uses a prefix or suffix S3 reserves"
    return None
