"""Bounded resources (docs/security.md, "Limits"): logs capped per attempt and read by their
tail, a cap on live log streams, quotes escaped in an email chart's attributes."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from trainchain import paths
from trainchain.notify.chart import trial_chart
from trainchain.pipeline import Pipeline
from trainchain.report import MetricSpec, TrialReport
from trainchain.server import logstream
from trainchain.server.app import create_app
from trainchain.server.testing import make_client
from trainchain.store import Store
from trainchain.trials.attempt_log import cap_log


def test_an_attempt_log_is_capped_while_the_trial_keeps_writing(tmp_path: Path) -> None:
    log = tmp_path / "attempt-1.log"
    with open(log, "ab", buffering=0) as trial_output:  # as the runtimes open it
        trial_output.write(b"first line\n" + b"x" * (3 << 20))
        assert cap_log(log, 1 << 20) < (1 << 20)
        trial_output.write(b"\nlast line\n")
        assert cap_log(log, 1 << 20) < (1 << 20)
    text = log.read_bytes()
    assert text.startswith(b"first line") and text.endswith(b"last line\n")
    assert b"bytes dropped here" in text


def test_logs_are_read_by_their_tail(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    run_id = Pipeline(store).create_run("https://example.org/a/b.git")
    log = paths.runs_dir() / run_id / "trials" / "000" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    with open(log, "wb") as fh:
        fh.write(b"noise\n" * (4 << 20))  # 24 MB
        fh.write(b"the end\n")
    with make_client(create_app(store, start_worker=False)) as c:
        r = c.get(f"/api/runs/{run_id}/logs")
    assert r.status_code == 200 and len(r.content) < (1 << 20)
    assert r.text.rstrip().endswith("the end") and "before them" in r.text


def test_live_log_streams_are_capped(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    run_id = Pipeline(store).create_run("https://example.org/a/b.git")
    taken = 0
    try:
        while logstream.stream_slot():
            taken += 1
        assert taken == logstream.MAX_STREAMS
        with make_client(create_app(store, start_worker=False)) as c:
            r = c.get(f"/api/runs/{run_id}/logs/stream")
        assert r.status_code == 429 and "log streams" in r.json()["error"]
    finally:
        for _ in range(taken):
            logstream._open.release()


def test_email_chart_escapes_quotes_in_its_aria_label() -> None:
    trials = [TrialReport(number=0, state="complete", value=0.5, params={})]
    svg = trial_chart(trials, MetricSpec('acc" onload="alert(1)', "maximize", 0.8))
    root = ElementTree.fromstring(svg)
    assert "onload" not in root.attrib
    assert root.attrib["aria-label"].startswith('acc" onload=')
