"""The answer to a request no route takes: API Gateway's per API kind, or the seed's 404/405 (compat switch)."""

from __future__ import annotations

from esb_runtime.gateway.config_source import GatewayConfig
from esb_runtime.gateway.responses import ProxyResponse, json_error
from esb_runtime.gateway.routing import NoMatch

# REST APIs answer an unknown path or method like an unsigned IAM call; HTTP APIs say Not Found.
REST_UNMATCHED = (403, "Missing Authentication Token")
HTTP_UNMATCHED = (404, "Not Found")


def _rest(config: GatewayConfig, miss: NoMatch) -> bool:
    """Whether the REST answer applies: the path is a REST API's, or (a path no API has) any REST API is served.

    On AWS each API has its own host; one box serves all of them on one, so an unknown path is the REST
    API's when there is one (the answer `sam local start-api` gives too).
    """
    if miss.kinds:
        return "HttpApi" not in miss.kinds
    return any(api.kind != "HttpApi" for api in config.apis.values())


def unmatched(config: GatewayConfig, miss: NoMatch) -> ProxyResponse:
    if config.seed_status_codes:
        if miss.allowed:
            return json_error(405, "Method Not Allowed", [("Allow", ", ".join(miss.allowed))])
        return json_error(*HTTP_UNMATCHED)
    return json_error(*(REST_UNMATCHED if _rest(config, miss) else HTTP_UNMATCHED))
