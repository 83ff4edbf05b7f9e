"""Build a SandboxSpec from a functions.yml entry: the Lambda environment a function sees."""

from __future__ import annotations

from esb_runtime.config import FunctionConfig, FunctionsConfig
from esb_runtime.contract import read_image_record, rie_identity
from esb_runtime.engine import SandboxSpec
from esb_runtime.manager.endpoints import sandbox_endpoints
from esb_runtime.secrets import BoxSecrets
from esb_runtime.settings import RuntimeSettings


def lambda_environment(fn: FunctionConfig, app: FunctionsConfig, settings: RuntimeSettings,
                       secrets: BoxSecrets | None) -> dict[str, str]:
    """Engine-independent variables Lambda sets, then the function's own, then store endpoints and credentials."""
    env = {
        **rie_identity(fn.name, fn.timeout, fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "AWS_REGION": app.region,
        "AWS_DEFAULT_REGION": app.region,
    }
    if fn.runtime:  # an image function's base image sets its own
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{fn.runtime}"
    env.update(fn.env)
    env.update(sandbox_endpoints(settings))
    ca_file = settings.tls_dir / "ca.pem"
    if (settings.lambda_endpoint or "").startswith("https:") and ca_file.exists():
        # boto3 in the handler verifies the gateway's certificate against the box's own CA.
        env["AWS_CA_BUNDLE"] = str(ca_file)
    if secrets is not None:
        env["AWS_ACCESS_KEY_ID"] = secrets.aws_access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = secrets.aws_secret_access_key
    return env


def image_tag(fn: FunctionConfig) -> str | None:
    """The docker engine's image: functions/<fn>/image.json {"tag", "id"}, written by the image task."""
    record = None if fn.manifest is None else read_image_record(fn.manifest.parent)
    return record.tag if record and record.tag else None


def build_spec(fn: FunctionConfig, app: FunctionsConfig, settings: RuntimeSettings,
               secrets: BoxSecrets | None, sandbox_hash: str) -> SandboxSpec:
    return SandboxSpec(
        function=fn.name,
        config_hash=sandbox_hash,
        handler=fn.handler,
        runtime=fn.runtime,
        code_dir=fn.code_dir,
        deps_dir=fn.deps_dir,
        layer_dirs=fn.layer_dirs,
        environment=lambda_environment(fn, app, settings, secrets),
        memory_mb=fn.memory_size,
        timeout_s=fn.timeout,
        image=image_tag(fn),
        runtime_dir=fn.runtime_dir,
        package_type=fn.package_type,
        image_config=fn.image_config,
    )
