"""Entry point of the stores process: `python -m esb_runtime.stores`."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from esb_runtime.stores.server import serve
from esb_runtime.stores.settings import StoresSettings


def main() -> int:
    # One line per request from werkzeug would drown the box's own messages.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = StoresSettings.from_env()
    server = serve(settings, settings.secrets_file)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    server.run_until_stopped()
    return 0


if __name__ == "__main__":
    sys.exit(main())
