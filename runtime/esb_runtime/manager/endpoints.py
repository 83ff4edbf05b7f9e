"""The AWS endpoints a sandbox's SDK resolves: every service to the box, none to AWS."""

from __future__ import annotations

from esb_runtime.settings import RuntimeSettings

# serviceId of each service the stores emulate, spelled as the SDKs' per-service variable wants it.
STORE_SERVICES = ("S3", "DYNAMODB", "DYNAMODB_STREAMS", "SQS", "SNS", "EVENTBRIDGE", "CLOUDWATCH_LOGS", "SSM",
                  "SECRETS_MANAGER", "KINESIS")


def sandbox_endpoints(settings: RuntimeSettings) -> dict[str, str]:
    """AWS_ENDPOINT_URL (SDK-wide: a service the box does not emulate gets its local UnsupportedService
    error there) plus one AWS_ENDPOINT_URL_<SERVICE> per emulated service; Lambda is the gateway."""
    env: dict[str, str] = {}
    services = settings.services_endpoint
    if services:
        env["AWS_ENDPOINT_URL"] = services
        env.update({f"AWS_ENDPOINT_URL_{name}": services for name in STORE_SERVICES})
    # Compose stores may split S3 and DynamoDB over other servers: their own endpoints win.
    if settings.s3_endpoint:
        env["AWS_ENDPOINT_URL_S3"] = settings.s3_endpoint
    if settings.dynamodb_endpoint:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = settings.dynamodb_endpoint
    if settings.lambda_endpoint:
        env["AWS_ENDPOINT_URL_LAMBDA"] = settings.lambda_endpoint
    return env
