"""Entry point: `python -m esb_runtime.manager` serves the manager API until SIGTERM/SIGINT."""

import os

from esb_runtime import green, heap

heap.starting()  # no cyclic collection while it imports (esb_runtime.heap)


def _may_speak_tls(env: dict[str, str]) -> bool:
    """Whether this manager can open a TLS connection. Its API is a unix socket and the sandboxes' RIEs are plain
    HTTP; the event-source pollers' boto3 (which imports ssl) talks to the box's stores at ESB_SERVICES_ENDPOINT,
    http:// as the launchers write it. TLS comes only from an https:// VictoriaLogs or stores URL, or from the
    docker SDK, which may reach a remote daemon over TLS (DOCKER_HOST=tcp://, DOCKER_TLS_VERIFY)."""
    urls = (env.get("ESB_VICTORIALOGS_URL") or "", env.get("ESB_SERVICES_ENDPOINT") or "")
    return env.get("ESB_ENGINE") == "docker" or any(url.lower().startswith("https:") for url in urls)


# First thing, before anything imports socket/threading/subprocess. ssl is patched only when a TLS call can happen
# (an unpatched ssl on a green socket would block the whole hub); otherwise it is left unpatched and unimported:
# ~5 MB of idle RSS (issue 14).
green.patch_all(leave=() if _may_speak_tls(dict(os.environ)) else ("ssl",))

import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any, Callable  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

from esb_runtime import secrets as box_secrets  # noqa: E402
from esb_runtime.errors import RuntimeBoxError  # noqa: E402
from esb_runtime.manager import isolation  # noqa: E402
from esb_runtime.manager.api import create_app  # noqa: E402
from esb_runtime.logs.factory import open_store  # noqa: E402
from esb_runtime.manager.engines import create_engine  # noqa: E402
from esb_runtime.manager.process_engine import ProcessEngine  # noqa: E402
from esb_runtime.manager.scheduler import attach as attach_scheduler  # noqa: E402
from esb_runtime.manager.lease_server import make_lease_server  # noqa: E402
from esb_runtime.sources.runner import attach as attach_sources  # noqa: E402
from esb_runtime.manager.server import make_server  # noqa: E402
from esb_runtime.manager.service import Manager  # noqa: E402
from esb_runtime.settings import RuntimeSettings  # noqa: E402

log = logging.getLogger("esb_runtime.manager")


def open_sink(settings: RuntimeSettings) -> tuple[Callable[[list[dict[str, Any]]], None], Callable[[], None]]:
    store = open_store(settings)
    return store.write, store.close


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s manager %(levelname)s %(message)s")
    settings = RuntimeSettings.from_env()
    plan = None
    try:
        engine = create_engine(settings)
        if isinstance(engine, ProcessEngine):
            # ESB_SANDBOX_USER: who function code runs as when the manager is root ("" keeps root; default: one
            # uid per function).
            plan = isolation.apply(engine, settings, os.environ.get("ESB_SANDBOX_USER"))
            left = engine.clear_leftovers()
            if left:
                log.info("stopped %d sandbox(es) a previous manager left running", left)
    except (RuntimeBoxError, Exception) as exc:  # one clear line, whatever the engine's failure was
        print(f"esb manager: cannot start the {settings.engine} engine: {exc}", file=sys.stderr)
        return 2
    secrets = box_secrets.load(settings.secrets_file) if settings.secrets_file.exists() else None
    write, close_store = open_sink(settings)
    manager = Manager(settings, engine, write, secrets=secrets)
    leases = make_lease_server(manager, settings.lease_socket)
    sources = attach_sources(manager, settings.services_endpoint, secrets and secrets.aws_access_key_id,
                             secrets and secrets.aws_secret_access_key)
    server = make_server(create_app(manager, sources), settings.manager_socket)
    heap.started()
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    leases.start()  # before the API socket: its appearance is what `esb up` waits for
    server.start()
    # ESB_SCHEDULE_SCALE (tests only): schedule time runs this many times faster than the wall clock.
    scheduler = attach_scheduler(manager, scale=float(os.environ.get("ESB_SCHEDULE_SCALE") or 1))
    log.info("manager listening on %s (engine %s)", settings.manager_socket, engine.name)
    stop.wait()
    log.info("stopping: every sandbox goes")
    server.stop(timeout=1)
    leases.stop(timeout=1)
    scheduler.stop()
    if sources is not None:
        sources.stop()
    manager.close()
    if plan is not None and plan.firewall is not None:
        plan.firewall.close()  # after the last sandbox: no rule of this box is left behind
    close_store()
    settings.manager_socket.unlink(missing_ok=True)
    settings.lease_socket.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
