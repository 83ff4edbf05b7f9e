"""Entry point of the stores process: `python -m esb_runtime.stores`."""

from __future__ import annotations

from esb_runtime import heap

heap.starting()  # first thing: importing moto and botocore is most of this process's start (esb_runtime.heap)

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from esb_runtime.logs.factory import open_store  # noqa: E402
from esb_runtime.settings import RuntimeSettings  # noqa: E402
from esb_runtime.stores import footprint  # noqa: E402
from esb_runtime.stores.server import serve  # noqa: E402
from esb_runtime.stores.settings import StoresSettings  # noqa: E402


def main() -> int:
    # One line per request from werkzeug would drown the box's own messages.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = StoresSettings.from_env()
    # moto reads the account of the ARNs and queue URLs it makes from here; the box's ARNs use this one.
    os.environ.setdefault("MOTO_ACCOUNT_ID", settings.account_id)
    runtime = RuntimeSettings.from_env()
    # Before any thread starts (it forks) and before moto or a client makes a botocore session (issue 14).
    os.environ.update(footprint.data_path_env(footprint.slim_endpoints(runtime.state_dir), os.environ))
    footprint.defer_module("cryptography.x509")  # before moto imports it (issue 14)
    footprint.without_encoding_guesses()  # before moto imports requests
    footprint.plain_json_models()  # before moto or a client loads a model
    footprint.slim_region_lookups()  # after both: it imports moto and makes its session
    try:
        logs = open_store(runtime)
    except ValueError as exc:
        print(f"stores: {exc}", file=sys.stderr)
        return 1
    try:
        server = serve(settings, settings.secrets_file, log_sink=logs.write)
    except OSError as exc:  # port taken, secrets missing: one clear line for the supervisor's log
        print(f"stores: cannot start on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    heap.started()  # imports done; the restore below leaves garbage the collector must see
    footprint.drop_managed_policies()

    def on_signal(*_: object) -> None:  # (signal number, frame)
        server.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.start()
    except Exception as exc:
        # Serving (and journaling on top of) empty stores would bury the saved data: refuse instead.
        print(f"stores: cannot restore {settings.data_dir / 'current'}: {exc}", file=sys.stderr)
        return 1
    heap.release_free_memory()  # what starting and restoring parsed and dropped (issue 14)
    server.run_until_stopped()
    logs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
