"""Live logs over server-sent events, through a real uvicorn server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from trainchain import paths
from trainchain.server.app import create_app
from trainchain.server.testing import auth_headers, live_server
from trainchain.store import Run, Store


def test_log_lines_stream_as_written_then_the_stream_ends(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'sse.db'}")
    with store.session() as s:
        run = Run(source="/src", name="m", status="running")
        s.add(run)
        s.flush()
        run_id = run.id
    log = paths.runs_dir() / run_id / "trials" / "000" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("Epoch 1/2\n")

    first_seen = threading.Event()
    streamed: list[bool] = []

    def train_on() -> None:
        # The "training" writes its next lines only once the client holds the first one: a
        # stream that sent nothing before the run ended would never get here (no clock involved).
        streamed.append(first_seen.wait(60))
        with open(log, "a") as fh:
            fh.write("Epoch 2/2\nval_accuracy: 0.91\n")
        time.sleep(1.0)
        store.update_run(run_id, status="succeeded")

    writer = threading.Thread(target=train_on)
    started = time.monotonic()
    received: list[tuple[float, dict[str, str]]] = []
    end: dict[str, str] = {}
    app = create_app(store, start_worker=False)
    with live_server(app) as base:
        writer.start()
        url = f"{base}/api/runs/{run_id}/logs/stream"
        with httpx.stream("GET", url, timeout=30, headers=auth_headers(app)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            event = "message"
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    if event == "end":
                        end = data
                        break
                    received.append((time.monotonic() - started, data))
                    first_seen.set()
        missing = httpx.get(
            f"{base}/api/runs/nope/logs/stream", timeout=10, headers=auth_headers(app)
        )
    writer.join()
    lines = [data["line"] for _, data in received]
    assert lines == ["Epoch 1/2", "Epoch 2/2", "val_accuracy: 0.91"]
    assert streamed == [True]  # the first line arrived before the rest existed
    assert {data["file"] for _, data in received} == {"trials/000/attempt-1.log"}
    assert end == {"status": "succeeded"}
    assert missing.status_code == 404
