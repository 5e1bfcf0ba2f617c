"""The run as pictures, all from one real run shared by the module (sklearn digits, epoch by
epoch): the terminal in a pseudo-terminal while it trains, plain lines through a pipe, the run
page's charts and live updates in Chromium, the models page, and optuna-dashboard on the same
database. Screenshots go to tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.cli import write_project
from tests.services import require, require_chromium

from trainchain.server.app import create_app
from trainchain.server.testing import live_server
from trainchain.store import Store

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
TRAIN = """\
\"\"\"A linear classifier on the scikit-learn digits, trained epoch by epoch.\"\"\"
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from trainchain.agent import log_metric

ALPHA = 0.01
L1_RATIO = 0.15

x, y = load_digits(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
model = SGDClassifier(alpha=ALPHA, l1_ratio=L1_RATIO, penalty="elasticnet", random_state=0)
for epoch in range(1, 7):
    model.partial_fit(x_train, y_train, classes=np.arange(10))
    log_metric("val_accuracy", model.score(x_val, y_val), step=epoch)
    time.sleep(0.4)  # slow enough to watch the page and the terminal move
print(f"val_accuracy: {model.score(x_val, y_val):.4f}")
"""
CONFIG = """\
target: 0.99
max_trials: 6
seed: 3
sampler: random
params:
  ALPHA: {type: float, low: 0.00001, high: 3.0, log: true}
  L1_RATIO: {type: float, low: 0.0, high: 1.0}
"""
TARGET = 0.99
TOKEN = "pictures-token"
pytestmark = pytest.mark.slow  # one real search feeds every test here (about a minute)


@dataclass
class Shared:
    """The module's real run: its home, database, project and the pty it prints to."""

    home: Path
    project: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    master: int
    chunks: list[bytes] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.home / 'trainchain.db'}"

    def output(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")

    def wait(self, timeout: float = 600) -> int:
        code = self.proc.wait(timeout)
        if self.reader is not None:
            self.reader.join(10)
        return code

    def run_id(self, index: int = 0) -> str:

        runs = sorted(Store(self.db_url).runs(limit=50), key=lambda r: r.created_at)
        return runs[index].id


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()


def _commit(project: Path, message: str) -> str:
    _git(project, "add", "-A")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", message)
    return _git(project, "rev-parse", "HEAD")


def _read_all(master: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return
        if not data:
            return
        chunks.append(data)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """`trainchain run` on a git repository, in a pseudo-terminal of 120 columns."""
    root = tmp_path_factory.mktemp("pictures")
    project = write_project(
        root / "digits-sgd",
        {"train.py": TRAIN, "requirements.txt": "scikit-learn\n", "trainchain.yaml": CONFIG},
    )
    _git(project, "init", "-q", "-b", "main")
    _commit(project, "first")
    home = root / "home"
    home.mkdir()
    env = {
        **os.environ,
        "TRAINCHAIN_HOME": str(home),
        "TRAINCHAIN_ENVS_DIR": os.environ.get("TRAINCHAIN_ENVS_DIR")
        or str(Path.home() / ".cache" / "trainchain-test-envs"),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
    }
    env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainchain", "run", str(project)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    run = Shared(home, project, env, proc, master)
    run.reader = threading.Thread(target=_read_all, args=(master, run.chunks), daemon=True)
    run.reader.start()
    try:
        yield run
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        run.reader.join(10)
        os.close(master)


@pytest.fixture(scope="module")
def second_run(shared: Shared) -> subprocess.CompletedProcess[str]:
    """A second commit trained through a pipe (not a terminal): v2 of the model."""
    assert shared.wait() in (0, 3), shared.output()[-3000:]
    train = shared.project / "train.py"
    # the code changes, not a parameter: another shuffle of the data per epoch
    train.write_text(train.read_text().replace("random_state=0)\nfor", "random_state=1)\nfor"))
    _commit(shared.project, "second")
    return subprocess.run(
        [sys.executable, "-m", "trainchain", "run", str(shared.project), "--max-trials", "2"],
        capture_output=True,
        text=True,
        env=shared.env,
        timeout=600,
    )


@pytest.fixture
def home_of(shared: Shared, monkeypatch: pytest.MonkeyPatch) -> Shared:
    """The server reads logs under TRAINCHAIN_HOME: point it at the shared run's home."""
    monkeypatch.setenv("TRAINCHAIN_HOME", str(shared.home))
    return shared


@contextlib.contextmanager
def chromium(base: str) -> Iterator[tuple[Any, list[str]]]:
    require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install playwright)")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/")  # no session yet: the login form
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_selector("#runs")
        try:
            yield page, errors
        finally:
            browser.close()


def dashboard(shared: Shared) -> Any:
    """The app over the shared run's database, the way the pages are served."""
    return create_app(Store(shared.db_url), start_worker=False, token=TOKEN)


def api(base: str, path: str) -> Any:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _analysis(base: str, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api(base, f"/api/runs/{run_id}/analysis")
    return data


def _wait_for_trials(shared: Shared, count: int, timeout: float = 300) -> str:
    """The run's id once ``count`` trials have recorded epochs (the run is training)."""
    store, deadline = Store(shared.db_url), time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert shared.proc.poll() is None, (
            "the run ended before the page was opened:\n" + (shared.output()[-3000:])
        )
        with contextlib.suppress(IndexError):
            run_id = shared.run_id()
            if sum(1 for t in store.trials(run_id) if t.epochs) >= count:
                return run_id
        time.sleep(0.3)
    raise AssertionError("the run recorded no epochs in time:\n" + shared.output()[-3000:])


# -- in order: the live page watches the run train; the rest read it once it has finished ------


@pytest.mark.browser
def test_the_run_page_updates_live_while_the_run_trains(home_of: Shared) -> None:
    shared = home_of
    run_id = _wait_for_trials(shared, 2)
    with (
        live_server(dashboard(shared)) as base,
        chromium(base) as (page, errors),
    ):
        page.goto(f"{base}/runs/{run_id}")
        assert page.locator("#live .live-state").get_attribute("data-status") == "running"
        before = page.locator("#intermediate circle.point").count()
        page.wait_for_function(
            f"document.querySelectorAll('#intermediate circle.point').length > {before}",
            timeout=60_000,
        )  # new epochs were drawn without reloading the page
        assert int(page.locator("#live").get_attribute("data-updates") or 0) >= 1
        page.screenshot(path=str(ARTIFACTS / "run-live.png"), full_page=True)
        assert shared.wait() in (0, 3), shared.output()[-3000:]
        page.wait_for_function(
            "document.querySelector('#live .live-state').dataset.status != 'running'",
            timeout=30_000,
        )  # the last update shows the finished run, then the page stops polling
        final = _analysis(base, run_id)
        shown = page.locator("#intermediate g.series").count()
        assert shown == sum(1 for t in final["trials"] if t["epochs"])
        assert errors == []


def test_the_terminal_shows_progress_during_training(shared: Shared) -> None:
    assert shared.wait() in (0, 3)
    text = shared.output()
    assert "\x1b[" in text  # a live panel on a terminal
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    # the panel showed trial 1's epochs while it trained: before its end was printed
    end = re.search(r"trial 1 (complete|pruned|failed)", plain)
    assert end is not None, plain[-3000:]
    assert plain.index("trial 1 epoch 2 val_accuracy 0.") < end.start()
    assert re.search(r"tune · trial \d of 6 · [\dm]+s elapsed · ETA ≤ [\dm]+s", plain), plain[
        -2000:
    ]
    assert re.search(r"best val_accuracy 0\.\d{4} \(trial \d\) · target 0\.99", plain)
    assert re.search(r"\d\.\ds/epoch", plain)


def test_output_through_a_pipe_stays_plain(second_run: subprocess.CompletedProcess[str]) -> None:
    assert second_run.returncode in (0, 3), second_run.stderr[-3000:]
    err = second_run.stderr
    assert "\x1b" not in err and "\r" not in err  # no escape codes, no redrawn lines
    for epoch in range(1, 7):
        assert f"trial 0 epoch {epoch} val_accuracy 0." in err
    assert re.search(r"trial 0 complete val_accuracy = 0\.\d{4} · best 0\.\d{4} \(trial 0\)", err)


@pytest.mark.browser
def test_the_run_page_charts_a_real_search(home_of: Shared) -> None:
    shared = home_of
    assert shared.wait() in (0, 3)
    run_id = shared.run_id(0)
    with (
        live_server(dashboard(shared)) as base,
        chromium(base) as (page, errors),
    ):
        data = _analysis(base, run_id)
        trials = data["trials"]
        complete = [t for t in trials if t["state"] == "complete"]
        pruned = [t for t in trials if t["state"] == "pruned"]
        assert len(trials) == 6 and pruned, [(t["number"], t["state"]) for t in trials]
        page.goto(f"{base}/runs/{run_id}")

        history = page.locator("#history")
        assert history.locator(".trial-point circle.point").count() == len(complete)
        assert history.locator(".best-line polyline").count() == 1
        assert float(history.locator(".target line").get_attribute("data-value") or 0) == TARGET
        assert history.locator(".x-axis .axis-label").text_content() == "trial number"
        assert history.locator(".y-axis .axis-label").text_content() == "val_accuracy"
        assert history.locator(".y-axis .tick-label").count() >= 3
        titles = history.locator("circle.point title").all_text_contents()
        assert f"trial {complete[-1]['number']}: val_accuracy" in " ".join(titles)

        curves = page.locator("#intermediate")
        assert curves.locator("g.series").count() == len(trials)
        assert curves.locator("g.series[data-state='pruned']").count() == len(pruned)
        epochs = sum(len(t["epochs"]) for t in trials)
        assert curves.locator("circle.point").count() == epochs
        assert curves.locator(".x-axis .axis-label").text_content() == "epoch"
        assert curves.locator(".target line").count() == 1

        tuned_complete = [t for t in complete if t["number"] > 0]
        if len(tuned_complete) >= 3:
            assert sorted(data["importances"]["values"]) == ["ALPHA", "L1_RATIO"]
            assert page.locator("#importances g.bar").count() == 2
        else:
            assert "importances need at least 3" in (
                page.locator("#importances-figure").text_content() or ""
            )

        coords = page.locator("#parallel")
        assert coords.locator(".trial-line").count() == len(complete)
        names = coords.locator(".parallel-axis").evaluate_all("els => els.map(e => e.dataset.name)")
        assert names == ["ALPHA", "L1_RATIO", "val_accuracy"]

        text = page.locator("body").inner_text()
        assert "{'" not in text and "':" not in text  # tables, not dict reprs
        table = page.locator("#trials").inner_text()
        for trial in complete:  # rounded for people; the API keeps full precision
            assert f"{trial['value']:.4g}" in table and repr(trial["value"]) not in table
        assert page.locator("#evidence tr").count() >= 2
        best = max(t["value"] for t in complete)
        assert page.locator("#best-value").get_attribute("data-value") == repr(best)
        page.screenshot(path=str(ARTIFACTS / "run-charts.png"), full_page=True)
        assert errors == []


@pytest.mark.browser
def test_models_page_versions_compare_and_commits(
    home_of: Shared, second_run: subprocess.CompletedProcess[str]
) -> None:
    shared = home_of
    assert second_run.returncode in (0, 3), second_run.stderr[-3000:]
    commits = _git(shared.project, "log", "--format=%H").split()
    with (
        live_server(dashboard(shared)) as base,
        chromium(base) as (page, errors),
    ):
        page.goto(f"{base}/models")
        page.click("a[href='/models/digits-sgd']")
        assert page.locator("#versions tr.version-row").count() == 2
        assert page.locator("#version-curves g.series").count() == 2
        assert page.locator("#version-curves circle.point").count() == 12  # 6 epochs each
        assert page.locator("#champions tr.champion-row").count() >= 1
        history = page.locator("#commit-history")
        assert history.locator("circle.point").count() == 2
        labels = history.locator(".x-axis .tick-label").all_text_contents()
        assert labels == [commits[1][:8], commits[0][:8]]  # oldest first
        page.screenshot(path=str(ARTIFACTS / "model.png"), full_page=True)
        page.click("#compare-form button[type='submit']")
        page.wait_for_selector("#side-b")
        assert page.locator(".version-facts").count() == 2
        v1, v2 = api(base, "/api/models/digits-sgd")["versions"]
        differing = {
            k
            for k in set(v1["params"]) | set(v2["params"])
            if v1["params"].get(k) != v2["params"].get(k)
        }
        rows = page.locator("#compare-params tr.differs th").all_text_contents()
        assert set(rows) == differing
        assert page.locator("#compare-params tr").count() == 1 + len(
            set(v1["params"]) | set(v2["params"])
        )
        assert page.locator("#compare-curves g.series").count() == 2
        page.screenshot(path=str(ARTIFACTS / "model-compare.png"), full_page=True)
        assert errors == []


def test_optuna_dashboard_opens_a_trainchain_study(shared: Shared) -> None:
    """`optuna-dashboard <trainchain's database URL>` lists the run's study and its trials."""
    assert shared.wait() in (0, 3)
    run_id = shared.run_id(0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    program = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    program = program or shutil.which("optuna-dashboard")
    require(program is not None, "optuna-dashboard is not installed (pip install optuna-dashboard)")
    assert program is not None
    cmd = [program, shared.db_url, "--host", "127.0.0.1", "--port", str(port), "--quiet"]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as server:
        try:
            studies = _get_json(f"http://127.0.0.1:{port}/api/studies", server)
            mine = [
                s for s in studies["study_summaries"] if s["study_name"] == f"trainchain-{run_id}"
            ]
            assert len(mine) == 1 and mine[0]["directions"] == ["maximize"]
            detail = _get_json(f"http://127.0.0.1:{port}/api/studies/{mine[0]['study_id']}", server)
            states = [t["state"] for t in detail["trials"]]
            assert states.count("Complete") >= 1 and "Pruned" in states
            tuned = [t for t in Store(shared.db_url).trials(run_id) if t.number > 0]
            assert len(detail["trials"]) >= len(tuned)
        finally:
            server.terminate()
            server.wait(30)
            assert server.stderr is not None
            server.stderr.close()


def _get_json(url: str, server: subprocess.Popen[bytes], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)
        except OSError as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                assert server.stderr is not None
                raise AssertionError(
                    f"optuna-dashboard did not answer: {server.stderr.read()!r}"
                ) from exc
            time.sleep(0.5)


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_with_the_live_panel_stops_cleanly(tmp_path: Path) -> None:
    """Ctrl-C while the panel is up: exit 130, the panel gone, the cursor given back."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    slow = TRAIN.replace("time.sleep(0.4)", "time.sleep(5.0)")  # Ctrl-C lands mid-training
    project = write_project(
        tmp_path / "slow", {"train.py": slow, "requirements.txt": "scikit-learn\n"}
    )
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    args = [sys.executable, "-m", "trainchain", "run", str(project), "--no-tune"]
    chunks: list[bytes] = []
    with subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        preexec_fn=_sigint_default,  # a terminal's child gets Ctrl-C, whatever pytest ignores
    ) as proc:
        os.close(slave)
        reader = threading.Thread(target=_read_all, args=(master, chunks), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 300
            while b"trial 0 epoch 1 " not in b"".join(chunks):
                assert proc.poll() is None and time.monotonic() < deadline, b"".join(chunks)
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
            reader.join(10)
            os.close(master)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    # as before the panel: click's "Aborted." after the run line that named the resume command
    assert text.rstrip().endswith("Aborted.") and "continues it if interrupted" in text
    assert text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l")  # the cursor is shown again
