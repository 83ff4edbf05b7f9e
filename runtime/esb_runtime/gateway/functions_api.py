"""Lambda's read API for boto3 clients: ListFunctions, GetFunction, GetFunctionConfiguration (SigV4-signed)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from esb_runtime.config import FunctionConfig
from esb_runtime.gateway import error_mapping, sigv4
from esb_runtime.gateway.config_source import ConfigSource, GatewayConfig
from esb_runtime.gateway.falcon_io import send
from esb_runtime.gateway.invoke_api import resolve_name
from esb_runtime.gateway.request import from_environ
from esb_runtime.gateway.responses import ProxyResponse

if TYPE_CHECKING:
    import falcon

LIST_PATH = "/2015-03-31/functions"
FUNCTION_PATH = "/2015-03-31/functions/{name}"
CONFIGURATION_PATH = "/2015-03-31/functions/{name}/configuration"
_MAX_ITEMS = 50  # Lambda's page size for ListFunctions


def _arn(config: GatewayConfig, name: str) -> str:
    return f"arn:aws:lambda:{config.region}:{config.account_id}:function:{name}"


def _last_modified(fn: FunctionConfig) -> str:
    try:
        moment = datetime.fromtimestamp(fn.manifest.stat().st_mtime, tz=timezone.utc) if fn.manifest else None
    except OSError:
        moment = None
    moment = moment or datetime.fromtimestamp(0, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def function_configuration(config: GatewayConfig, fn: FunctionConfig) -> dict[str, Any]:
    """The FunctionConfiguration shape boto3 parses (what the box knows of it; no IAM role exists here)."""
    code_hash = fn.code_hash()
    data: dict[str, Any] = {
        "FunctionName": fn.name,
        "FunctionArn": _arn(config, fn.name),
        "Role": f"arn:aws:iam::{config.account_id}:role/esb-{config.project or 'box'}",
        "Timeout": fn.timeout,
        "MemorySize": fn.memory_size,
        "LastModified": _last_modified(fn),
        "CodeSha256": base64.b64encode(bytes.fromhex(code_hash)).decode() if code_hash else "",
        "CodeSize": 0,
        "Version": "$LATEST",
        "Environment": {"Variables": fn.env},
        "PackageType": fn.package_type,
        "Architectures": [fn.architecture],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Layers": [{"Arn": f"arn:aws:lambda:{config.region}:{config.account_id}:layer:{layer}:1"} for layer in fn.layers],
    }
    if fn.package_type != "Image":
        data.update(Runtime=fn.runtime, Handler=fn.handler)
    return data


def _json(data: dict[str, Any]) -> ProxyResponse:
    return ProxyResponse(200, [("Content-Type", "application/json")], json.dumps(data).encode())


class FunctionsApi:
    """GET on the three paths; every call signed with the box's key, as the Invoke API."""

    def __init__(self, *, config: ConfigSource, credentials: sigv4.Credentials, clock: Callable[[], float]) -> None:
        self._config = config
        self._credentials = credentials
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str | None = None) -> None:
        send(resp, self._answer(req, name))

    def _answer(self, req: falcon.Request, name: str | None) -> ProxyResponse:
        try:
            sigv4.verify(from_environ(req.env, req.path, b""), self._credentials, service="lambda", now=self._clock())
        except sigv4.SignatureError as exc:
            return error_mapping.lambda_error(403, exc.code, exc.message)
        config = self._config.current()
        if name is None:
            return self._list(req, config)
        function = resolve_name(name, req.get_param("Qualifier"))
        fn = config.functions.get(function) if function else None
        if fn is None:
            return error_mapping.lambda_error(404, "ResourceNotFoundException", f"Function not found: {_arn(config, name)}")
        req.context.function = fn.name
        configuration = function_configuration(config, fn)
        if req.path.endswith("/configuration"):
            return _json(configuration)
        code = ({"RepositoryType": "ECR", "ImageUri": f"esb/{config.project}/{fn.name}"} if fn.package_type == "Image"
                else {"RepositoryType": "S3", "Location": fn.code_dir.as_uri()})
        return _json({"Configuration": configuration, "Code": code})

    def _list(self, req: falcon.Request, config: GatewayConfig) -> ProxyResponse:
        names = sorted(config.functions)
        marker = req.get_param("Marker")
        start = names.index(marker) + 1 if marker in names else 0
        size = min(_MAX_ITEMS, max(1, req.get_param_as_int("MaxItems") or _MAX_ITEMS))
        page = names[start:start + size]
        data: dict[str, Any] = {"Functions": [function_configuration(config, config.functions[n]) for n in page]}
        if start + size < len(names):
            data["NextMarker"] = page[-1]
        return _json(data)
