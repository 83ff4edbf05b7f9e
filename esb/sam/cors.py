"""CORS settings from the SAM forms (Api Cors, HttpApi CorsConfiguration, FunctionUrlConfig Cors)."""

from __future__ import annotations

from typing import Any

from esb.model import Cors
from esb.sam.context import LoadContext
from esb.sam.scalars import cfn_str, is_scalar, to_bool, to_int

Path = tuple[str, ...]


def _unquote(text: str) -> str:
    """SAM's REST Api Cors values are header values in single quotes: "'GET,POST'".

    SAM strips every single quote at either end, so a slip like "'*''" still means *.
    """
    return text.strip().strip("'").strip()


def _items(ctx: LoadContext, value: Any, path: Path, *, quoted: bool, upper: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    if is_scalar(value):
        text = _unquote(cfn_str(value)) if quoted else cfn_str(value)
        parts = text.split(",")
    elif isinstance(value, list) and all(is_scalar(v) for v in value):
        parts = [cfn_str(v) for v in value]
    else:
        ctx.fail(path, "CORS values must be a string or a list of strings")
    cleaned = {p.strip().upper() if upper else p.strip() for p in parts}
    return tuple(sorted(p for p in cleaned if p))


def _origin(ctx: LoadContext, value: Any, path: Path) -> tuple[str, ...]:
    """A REST API's AllowOrigin is one header value that the OPTIONS mock returns verbatim."""
    if not is_scalar(value) or _unquote(cfn_str(value)) == "":
        ctx.fail(path, "AllowOrigin must be a quoted origin like \"'*'\"")
    return (_unquote(cfn_str(value)),)


def _number(ctx: LoadContext, value: Any, path: Path, *, quoted: bool) -> int | None:
    if value is None:
        return None
    try:
        return to_int(_unquote(cfn_str(value)) if quoted and is_scalar(value) else value)
    except (ValueError, TypeError):
        ctx.fail(path, "MaxAge must be a number of seconds")


def _flag(ctx: LoadContext, value: Any, path: Path) -> bool:
    if value is None:
        return False
    try:
        return to_bool(_unquote(value) if isinstance(value, str) else value)
    except ValueError:
        ctx.fail(path, "AllowCredentials must be true or false")


def rest_api_cors(ctx: LoadContext, value: Any, path: Path) -> Cors | None:
    """AWS::Serverless::Api Cors: "'origin'" or {AllowOrigin, AllowMethods, AllowHeaders, MaxAge, ...}."""
    if value is None:
        return None
    if is_scalar(value):
        return Cors(allow_origins=_origin(ctx, value, path), allow_methods=("*",))
    if not isinstance(value, dict):
        ctx.fail(path, "Cors must be a quoted origin like \"'*'\" or a mapping")
    if "AllowOrigin" not in value:
        ctx.fail(path, "Cors needs AllowOrigin", "add AllowOrigin: \"'*'\" (note the inner quotes)")
    methods = _items(ctx, value.get("AllowMethods"), (*path, "AllowMethods"), quoted=True, upper=True)
    return Cors(
        allow_origins=_origin(ctx, value["AllowOrigin"], (*path, "AllowOrigin")),
        # SAM answers preflights with every method of the path when AllowMethods is absent.
        allow_methods=methods or ("*",),
        allow_headers=_items(ctx, value.get("AllowHeaders"), (*path, "AllowHeaders"), quoted=True),
        allow_credentials=_flag(ctx, value.get("AllowCredentials"), (*path, "AllowCredentials")),
        max_age=_number(ctx, value.get("MaxAge"), (*path, "MaxAge"), quoted=True),
    )


def list_cors(ctx: LoadContext, value: Any, path: Path) -> Cors | None:
    """HttpApi CorsConfiguration (true or a mapping) and FunctionUrlConfig Cors: lists of strings."""
    if value is None or value is False:
        return None
    if value is True:
        return Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    if not isinstance(value, dict):
        ctx.fail(path, "CORS configuration must be true or a mapping with AllowOrigins, AllowMethods, ...")
    return Cors(
        allow_origins=_items(ctx, value.get("AllowOrigins"), (*path, "AllowOrigins"), quoted=False),
        allow_methods=_items(ctx, value.get("AllowMethods"), (*path, "AllowMethods"), quoted=False, upper=True),
        allow_headers=_items(ctx, value.get("AllowHeaders"), (*path, "AllowHeaders"), quoted=False),
        expose_headers=_items(ctx, value.get("ExposeHeaders"), (*path, "ExposeHeaders"), quoted=False),
        allow_credentials=_flag(ctx, value.get("AllowCredentials"), (*path, "AllowCredentials")),
        max_age=_number(ctx, value.get("MaxAge"), (*path, "MaxAge"), quoted=False),
    )
