"""`esb env`: shell exports that point every AWS tool on this machine at the running box."""

from __future__ import annotations

import shlex

from esb.box.state import BoxState
from esb.errors import ConfigError
from esb_runtime.secrets import BoxSecrets


def exports(state: BoxState, secrets: BoxSecrets, *, http: bool = False) -> list[tuple[str, str]]:
    """The variables, in order: endpoints (the stores' stable one; the Lambda API is the gateway's), keys, region,
    and the CA (HTTPS only). Per-service AWS_ENDPOINT_URL_* win over AWS_ENDPOINT_URL in the SDKs and CLI v2."""
    endpoint = state.aws_http_endpoint if http else state.aws_endpoint
    if endpoint:
        endpoints = [("AWS_ENDPOINT_URL", endpoint)]
    elif state.engine == "compose":  # the seed's stack: S3 and DynamoDB are separate servers, published as they are
        endpoints = [("AWS_ENDPOINT_URL_S3", state.s3_endpoint), ("AWS_ENDPOINT_URL_DYNAMODB", state.dynamodb_endpoint)]
        secure = [url for _, url in endpoints if url.startswith("https:")]
        if http and secure:  # the stack has no plain-HTTP listener of its own to offer instead
            raise ConfigError(f"the compose stack publishes {secure[0]} over HTTPS only: no plain-HTTP endpoint",
                              hint="use `esb env` (with the CA) for it")
    else:
        key = "ports.aws_http" if http else "ports.aws"
        raise ConfigError(f"this box has no {'plain-HTTP ' if http else ''}AWS endpoint",
                          where="generator.yml", hint=f"set {key} (a port number) and restart the box")
    pairs = endpoints + [
        ("AWS_ENDPOINT_URL_LAMBDA", state.gateway_url),
        ("AWS_ACCESS_KEY_ID", secrets.aws_access_key_id),
        ("AWS_SECRET_ACCESS_KEY", secrets.aws_secret_access_key),
        ("AWS_REGION", state.region),
        ("AWS_DEFAULT_REGION", state.region),
    ]
    return pairs if http else pairs + [("AWS_CA_BUNDLE", state.ca_file)]


def render(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in pairs)
