"""A real HTTP server, in a thread, serving a folder laid out as a dataset cache (the
``TRAINCHAIN_DATASETS_MIRROR`` layout) and counting the files it sent."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Served:
    url: str
    requests: Counter[str] = field(default_factory=Counter)  # path -> GETs received
    delay: float = 0.0  # seconds before each response: a slow link, so downloads overlap


class _Handler(SimpleHTTPRequestHandler):
    served: Served

    def do_GET(self) -> None:
        self.served.requests[self.path] += 1
        time.sleep(self.served.delay)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path, delay: float = 0.0, host: str = "127.0.0.1") -> Iterator[Served]:
    """``host``: the address to listen on (a Docker bridge's gateway for containers)."""
    served = Served("", delay=delay)
    handler = type("Handler", (_Handler,), {"served": served})
    with ThreadingHTTPServer((host, 0), partial(handler, directory=str(folder))) as http:
        served.url = f"http://{host}:{http.server_address[1]}"
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        try:
            yield served
        finally:
            http.shutdown()
            thread.join()
