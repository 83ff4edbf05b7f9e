"""Data moto and botocore keep resident in the stores process that the box never reads (issue 14: memory).

- botocore's endpoints.json: moto asks a botocore session for each service's regions, which keeps the whole
  file parsed (~7 MB of dicts, most of it the FIPS/dual-stack `variants` of every endpoint). A copy without the
  variants, first on botocore's AWS_DATA_PATH, gives the same partitions, regions and credential scopes in
  ~2 MB. It is written once per botocore version by a forked child, so this process never parses the full file.
- moto's AWS-managed IAM policies: a 4.7 MB string moto's IAM module holds from the first request on, parsed
  only when MOTO_IAM_LOAD_MANAGED_POLICIES is set. The box emulates no IAM (services.EMULATED).
- botocore's JSON documents as OrderedDicts: its loader parses endpoints.json and every service model with
  object_pairs_hook=OrderedDict, twice the memory of plain dicts (which keep their order too); moto keeps the
  endpoints and the S3 and DynamoDB models (4 MB of the process as OrderedDicts). Parsed as dicts instead.
- service models behind moto's region lists: moto asks one shared boto3 session for each service's regions when it
  first makes that service's backend, and botocore reads the service's whole model (dynamodb's: ~1.5 MB of RSS)
  for its endpoint prefix, then keeps it cached for the process's life, beside the copy moto's own responses
  load. That session's loader keeps only the metadata of each model (and everything else it caches, as before).
- cryptography.x509: moto's IAM module (imported by every request, to note the caller's account) imports it for
  IAM server certificates only; loading it maps cryptography's Rust library (~8.5 MB). It is made a lazy module
  (importlib.util.LazyLoader): loaded in full on first use, by whoever uses it. (Python < 3.12 loads a lazy module
  without a lock: its one user in the box's services is moto's SNS module, imported under the import lock.)
- charset_normalizer: requests (which moto imports) loads it to guess the encoding of a response that names none
  (Response.apparent_encoding), ~2.7 MB; the stores make no such guess. Without it requests says UTF-8 there, as
  its own fallback does, and warns once at import (silenced).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from esb_runtime.forked import run_forked

ENDPOINTS = "endpoints.json"


def without_variants(node: Any) -> Any:
    """The endpoints document minus every `variants` list (FIPS and dual-stack host names)."""
    if isinstance(node, dict):
        return {key: without_variants(value) for key, value in node.items() if key != "variants"}
    if isinstance(node, list):
        return [without_variants(item) for item in node]
    return node


def _write_slim(source: Path, target: Path) -> None:
    slim = without_variants(json.loads(source.read_text(encoding="utf-8")))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(slim, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, target)


def slim_endpoints(cache_dir: Path) -> Path | None:
    """A directory holding the slim endpoints.json for the installed botocore (made if missing); None if it
    cannot be made (then botocore's own file serves, as before)."""
    import botocore

    source = Path(botocore.__file__).parent / "data" / ENDPOINTS
    folder = cache_dir / f"botocore-{botocore.__version__}"
    if (folder / ENDPOINTS).is_file():
        return folder
    if not source.is_file():
        return None
    made = run_forked(lambda: _write_slim(source, folder / ENDPOINTS))
    return folder if made and (folder / ENDPOINTS).is_file() else None


def data_path_env(folder: Path | None, env: Mapping[str, str]) -> dict[str, str]:
    """AWS_DATA_PATH with `folder` first (botocore takes the first endpoints.json it finds); {} for None."""
    if folder is None:
        return {}
    rest = env.get("AWS_DATA_PATH", "")
    return {"AWS_DATA_PATH": os.pathsep.join(filter(None, [str(folder), rest]))}


def plain_json_models() -> None:
    """botocore's loader parses its JSON documents into plain dicts from here on. Call it before moto loads any.

    Its one use of OrderedDict is the object_pairs_hook of JSONFileLoader._load_file (a module global, looked up
    at each call); nothing in botocore or moto tests a loaded document for OrderedDict, and dicts keep the order."""
    from botocore import loaders

    loaders.OrderedDict = dict  # type: ignore[attr-defined,misc]


class MetadataOfModels(dict):  # type: ignore[type-arg]
    """A botocore Loader's cache (its `instance_cache` results) that keeps each service model as its metadata only:
    for moto's region-lookup session, which reads nothing else of a model (its endpoint prefix), and uses nothing
    else of the session. Each model is parsed once, as before; the rest is cached as before."""

    def __setitem__(self, key: Any, value: Any) -> None:
        if key[0] == "load_service_model" and "service-2" in key and isinstance(value, dict):
            value = {"metadata": value.get("metadata", {})}
        elif key[0] == "load_data_with_path" and str(key[1]).endswith("/service-2"):
            return  # read once, for load_service_model, whose result is kept (as above)
        super().__setitem__(key, value)


def slim_region_lookups() -> bool:
    """moto's region-lookup session keeps only the metadata of the service models it reads, from here on.
    Call it once AWS_DATA_PATH is final (the session's loader reads it) and after `defer_module`, as it imports
    moto; False where moto or botocore no longer have the parts it relies on (then nothing changes)."""
    from moto.core.base_backend import AccountSpecificBackend

    get_session = getattr(AccountSpecificBackend, "get_session", None)
    if get_session is None:
        return False
    loader = get_session()._session.get_component("data_loader")  # the one session moto keeps for this
    cache = getattr(loader, "_cache", None)
    if type(cache) is not dict:
        return isinstance(cache, MetadataOfModels)
    loader._cache = MetadataOfModels(cache)
    return True


def drop_managed_policies() -> bool:
    """Free moto's managed-policy document unless moto was told to load it; whether it was dropped."""
    from moto import settings
    from moto.iam import aws_managed_policies, models

    if settings.load_iam_aws_managed_policies():
        return False
    # "{}" keeps the names valid JSON for any reader; moto parses them only with the setting above.
    aws_managed_policies.aws_managed_policies_data = "{}"
    models.aws_managed_policies_data = "{}"  # type: ignore[attr-defined]
    return True


def defer_module(name: str) -> bool:
    """Make `name` a lazy module: executed on its first attribute access. Call it before anything imports it;
    False when it is imported already or not installed."""
    if name in sys.modules:
        return False
    parent, _, child = name.rpartition(".")
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return False
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if parent:
        setattr(sys.modules[parent], child, module)  # `from parent import child` finds it as an attribute
    return True


def without_encoding_guesses() -> bool:
    """Keep requests from loading a character detection library (see above); call it before anything imports
    requests. False when requests is imported already (then nothing changes)."""
    if "requests" in sys.modules:
        return False
    for name in ("charset_normalizer", "chardet"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import name" raises ImportError
    warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")
    return True
