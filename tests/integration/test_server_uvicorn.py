"""The real server: uvicorn on 127.0.0.1, httpx over TCP, and a 200-delivery burst."""

from __future__ import annotations

import collections
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select

from trainchain.server.app import create_app
from trainchain.server.testing import auth_headers, github_delivery, live_server
from trainchain.store import Project, Run, Store, WebhookDelivery

REPO = Path(__file__).resolve().parents[2]
SECRET = "load-secret"
URL = "https://github.com/Codertocat/Hello-World.git"
BRANCHES = [f"b{n}" for n in range(5)]


def payload(branch: str, sha: str) -> dict[str, object]:
    return {
        "ref": f"refs/heads/{branch}",
        "after": sha,
        "deleted": False,
        "repository": {"clone_url": URL, "html_url": URL.removesuffix(".git")},
    }


def test_200_deliveries_over_5_branches(tmp_path: Path, monkeypatch: object) -> None:
    monkeypatch.setenv("LOAD_SECRET", SECRET)  # type: ignore[attr-defined]
    store = Store(f"sqlite:///{tmp_path / 'load.db'}")
    with store.session() as s:
        s.add(Project(name="hello", url=URL, branch="*", secret_env="LOAD_SECRET"))
    deliveries = [
        github_delivery(payload(BRANCHES[n % 5], f"{n + 1:040x}"), SECRET, delivery=f"load-{n}")
        for n in range(200)
    ]
    app = create_app(store, start_worker=False)
    with (
        live_server(app) as base,
        httpx.Client(base_url=base, timeout=30, headers=auth_headers(app)) as http,
    ):
        assert http.get("/healthz").json()["ok"] is True

        def send(item: tuple[bytes, dict[str, str]]) -> tuple[int, float]:
            start = time.perf_counter()
            r = http.post("/hooks/github", content=item[0], headers=item[1])
            return r.status_code, time.perf_counter() - start

        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, deliveries))
        elapsed = time.perf_counter() - start
        metrics = http.get("/metrics").text
    codes = collections.Counter(code for code, _ in results)
    latencies = sorted(t for _, t in results)
    assert codes == {202: 200}, codes
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 200  # none lost
        statuses = collections.Counter(s.scalars(select(Run.status)))
        queued = s.execute(select(Run.branch, Run.ref).where(Run.status == "queued")).all()
    # coalesced: one queued run per branch, and it is that branch's last push
    assert statuses == {"queued": 5, "superseded": 195}
    last = {BRANCHES[n % 5]: f"{n + 1:040x}" for n in range(200)}
    assert dict(queued) == last
    assert re.search(r'trainchain_webhook_deliveries_total\{result="queued"\} 200', metrics)
    if os.environ.get("TRAINCHAIN_WRITE_FIGURES") == "1":  # speed is a figure, not an assert
        _write_figures(elapsed, latencies)


def _write_figures(elapsed: float, latencies: list[float]) -> None:
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    section = (
        "<!-- server-load -->\n"
        "Webhook burst (tests/integration/test_server_uvicorn.py, figures written with "
        "`TRAINCHAIN_WRITE_FIGURES=1`): 200 signed GitHub push "
        "deliveries over 5 branches, 8 concurrent clients, real uvicorn on 127.0.0.1, "
        "SQLite WAL.\n\n"
        "| deliveries | answered 202 | wall time | p50 | p99 | runs queued / superseded |\n"
        "|---|---|---|---|---|---|\n"
        f"| 200 | 200 | {elapsed:.2f} s | {p50 * 1000:.0f} ms | {p99 * 1000:.0f} ms | 5 / 195 |\n"
        "<!-- /server-load -->"
    )
    doc = REPO / "docs" / "reliability.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Reliability\n"
    pattern = re.compile(r"<!-- server-load -->.*?<!-- /server-load -->", re.S)
    if pattern.search(text):
        text = pattern.sub(section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text, encoding="utf-8")


def test_trainchain_serve_command_listens_and_answers(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TRAINCHAIN_API_TOKEN": "tok"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainchain", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "trainchain serve did not start in 60 s"
                time.sleep(0.2)
        assert health.json()["ok"] is True
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/runs").status_code == 401
        auth = {"Authorization": "Bearer tok"}
        assert httpx.get(f"{base}/api/runs", headers=auth).json() == []
        assert httpx.get(f"{base}/").status_code == 401  # the dashboard too needs the token
        assert httpx.get(f"{base}/", headers=auth).status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # reap it and close its pipe
