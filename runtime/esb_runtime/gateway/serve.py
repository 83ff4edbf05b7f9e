"""The gateway in one process: gunicorn's settings and gevent worker, without gunicorn's master (issue 14).

`python -m esb_runtime.gateway.serve`. With one worker, gunicorn's master only binds the port, forks the worker
and watches it: a second Python process of ~40 MB RSS whose jobs the box already has done elsewhere (its
supervisor restarts a dead part by PID and start time). Here the same GatewayWorker runs in the process `esb up`
starts, with the same settings (gunicorn_conf: TLS, connection caps, keep-alive deadline, graceful timeout on
SIGTERM, SIGQUIT/SIGINT at once); watchdog.py stands in for the master's timeout on a wedged worker. More than
one worker still runs under gunicorn's master (esb.box.launch picks).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from gunicorn import sock, util
from gunicorn.app.base import Application

from esb_runtime.gateway.watchdog import Watchdog
from esb_runtime.gateway.worker import GatewayWorker

CONFIG = "python:esb_runtime.gateway.gunicorn_conf"


class GatewayApplication(Application):
    """gunicorn's configuration from a module, with no command line to parse."""

    def __init__(self, config: str = CONFIG) -> None:
        self._config = config
        super().__init__(prog="esb-gateway")

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        return None  # only gunicorn's own command line calls this

    def load_config(self) -> None:
        self.load_config_from_module_name_or_filename(self._config)

    def load(self) -> Any:
        return util.import_app(self.cfg.wsgi_app)


class SoleWorker(GatewayWorker):
    """The worker as the whole gateway: it heartbeats to a watchdog, and has no master whose exit ends it (a
    gunicorn worker exits when its parent changes; this process's parent is `esb up`, which exits)."""

    watchdog: Watchdog

    def notify(self) -> None:
        self.watchdog.beat()

    def run(self) -> None:
        self.watchdog.start()  # here: after the worker's monkey-patching, in the process that serves
        super().run()


def main(config: str = CONFIG) -> int:
    app = GatewayApplication(config)
    cfg = app.cfg
    log = cfg.logger_class(cfg)
    listeners = sock.create_sockets(cfg, log)
    log.info("Listening at: %s (pid %s, one process)", ",".join(str(lnr) for lnr in listeners), os.getpid())
    worker = SoleWorker(1, os.getppid(), listeners, app, cfg.timeout, cfg, log)
    worker.pid = os.getpid()
    worker.watchdog = Watchdog(cfg.timeout)
    worker.init_process()  # serves until SIGTERM (graceful) or SIGQUIT/SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
