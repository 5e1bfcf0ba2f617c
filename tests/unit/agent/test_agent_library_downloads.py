"""Two trials racing on one scikit-learn / torchvision dataset download: with the agent's hooks
one downloads it, the other waits and reads it, and the file is whole (agent.library_downloads).
Each race also runs without the hook, where both download: the check can fail."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.dataset_server import Served, serve

from conftest import agent_env
from trainchain.agent import library_downloads

pytestmark = pytest.mark.timeout(600)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB

# the second trial asks only once the first is mid-download (the test says when: GO exists)
FETCH_REMOTE = """
import os, sys, time
from sklearn.datasets._base import RemoteFileMetadata, _fetch_remote
from sklearn.datasets import _covtype
print("fetch_covtype locked", hasattr(_covtype._fetch_remote, "__wrapped__"))
go = os.environ.get("GO")
while go and not os.path.exists(go):
    time.sleep(0.05)
url, folder, checksum = sys.argv[1:]
print("before", os.path.exists(os.path.join(folder, "tiny.bin")))
path = _fetch_remote(RemoteFileMetadata("tiny.bin", url, checksum), dirname=folder)
print("got", path, len(open(path, "rb").read()))
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "tiny.bin").write_bytes(PAYLOAD)
    return site


def _wait_for_request(http: Served, path: str, gave_up: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 300
    while not http.requests[path] and not gave_up() and time.monotonic() < deadline:
        time.sleep(0.05)


def _two_trials(
    staged_agent: Path,
    tmp_path: Path,
    script: str,
    args: list[str],
    through_agent: bool,
    watched: tuple[Served, str],
) -> tuple[list[subprocess.Popen[str]], list[tuple[str, str]]]:
    """Two trial processes running ``script``: trial 1 waits for the ``GO`` file, touched once
    trial 0's request for the watched path reached the (slow) server; (processes, outputs)."""
    go = tmp_path / "go"
    procs = []
    for index in range(2):
        workdir = tmp_path / f"trial{index}"
        workdir.mkdir()
        (workdir / "train.py").write_text(script)
        env = agent_env(staged_agent, workdir, None)
        env["GO"] = str(go) if index else ""
        agent = ["-m", "trainchain.agent"] if through_agent else []
        procs.append(
            subprocess.Popen(
                [sys.executable, *agent, "train.py", *args],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
    http, path = watched
    _wait_for_request(http, path, lambda: procs[0].poll() is not None)
    go.touch()  # trial 0 is downloading (a slow link): now trial 1 asks too
    return procs, [p.communicate(timeout=300) for p in procs]


@pytest.mark.parametrize("through_agent", [True, False], ids=["agent", "without-hook"])
def test_two_trials_fetching_one_sklearn_file_download_it_once(
    staged_agent: Path, tmp_path: Path, through_agent: bool
) -> None:
    pytest.importorskip("sklearn")
    cache = tmp_path / "cache" / "sklearn"
    cache.mkdir(parents=True)  # as every fetch_* makes its data_home
    checksum = hashlib.sha256(PAYLOAD).hexdigest()
    with serve(_site(tmp_path), delay=3.0) as http:
        args = [http.url + "/tiny.bin", str(cache), checksum]
        procs, outputs = _two_trials(staged_agent, tmp_path, FETCH_REMOTE, args, through_agent,
                                     (http, "/tiny.bin"))  # fmt: skip
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert f"got {cache / 'tiny.bin'} {len(PAYLOAD)}" in out, out
        # the fetch_* modules bind _fetch_remote at import: they got the locked one too
        assert f"fetch_covtype locked {through_agent}" in out, out
    assert "before False" in outputs[1][0]  # trial 1 found no file and asked to download ...
    assert http.requests["/tiny.bin"] == (1 if through_agent else 2)  # ... once, with the hook
    assert (cache / "tiny.bin").read_bytes() == PAYLOAD
    assert not [p.name for p in cache.iterdir() if ".part" in p.name]


def _race(first: Callable[[], Any], second: Callable[[], Any], http: Served, path: str) -> None:
    """``first`` in a thread; once its request reached the server, ``second`` in another."""
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(first,))]
    threads[0].start()
    _wait_for_request(http, path, lambda: not threads[0].is_alive())
    threads.append(threading.Thread(target=run, args=(second,)))
    threads[1].start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors


def _torchvision_utils() -> types.ModuleType:
    """A stand-in for ``torchvision.datasets.utils`` (torch is too large to install for this):
    its ``download_url`` writes the file in place, as torchvision's does."""
    module = types.ModuleType("torchvision.datasets.utils")

    def download_url(
        url: str, root: str, filename: str | None = None, md5: str | None = None
    ) -> None:
        target = Path(root) / (filename or Path(url).name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url) as response, open(target, "wb") as out:
            while chunk := response.read(1 << 16):
                out.write(chunk)
        if md5 and hashlib.md5(target.read_bytes()).hexdigest() != md5:
            raise RuntimeError("File not found or corrupted.")

    module.download_url = download_url  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize("hooked", [True, False], ids=["hooked", "without-hook"])
def test_two_torchvision_downloads_of_one_file_fetch_it_once(tmp_path: Path, hooked: bool) -> None:
    utils = _torchvision_utils()
    if hooked:
        original = utils.download_url
        library_downloads.patch_torchvision(utils)
        library_downloads.patch_torchvision(utils)  # a second import hook must not wrap twice
        assert utils.download_url.__wrapped__ is original
    root = tmp_path / "data" / "MNIST" / "raw"
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    seen: list[int] = []

    def fetch() -> None:
        utils.download_url(http.url + "/tiny.bin", str(root), None, md5)
        seen.append(len((root / "tiny.bin").read_bytes()))

    with serve(_site(tmp_path), delay=2.0) as http:
        _race(fetch, fetch, http, "/tiny.bin")
    assert http.requests["/tiny.bin"] == (1 if hooked else 2)
    if hooked:  # without the lock a reader may see the other download's half-written file
        assert seen == [len(PAYLOAD)] * 2  # (CI saw 655360 of 1048576 bytes): the race itself
    assert (root / "tiny.bin").read_bytes() == PAYLOAD
    assert not [p for p in root.iterdir() if ".part" in p.name]


@pytest.mark.parametrize("hooked", [True, False], ids=["hooked", "without-hook"])
def test_two_openml_downloads_of_one_file_fetch_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hooked: bool
) -> None:
    openml = pytest.importorskip("sklearn.datasets._openml")
    if not hasattr(openml, "_openml_path_from_url"):
        pytest.skip("this scikit-learn's _open_openml_url takes a cache path, not a URL")
    monkeypatch.setattr(openml, "_open_openml_url", openml._open_openml_url)  # restored after
    if hooked:
        library_downloads.patch_sklearn_openml(openml)
    site = tmp_path / "site" / "data" / "v1" / "download" / "1"
    site.mkdir(parents=True)
    (site / "tiny.arff").write_bytes(PAYLOAD)
    home = tmp_path / "scikit_learn_data"
    read: list[int] = []

    def fetch() -> None:
        with openml._open_openml_url(http.url + "/data/v1/download/1/tiny.arff", str(home)) as f:
            read.append(len(f.read()))

    with serve(tmp_path / "site", delay=2.0) as http:
        _race(fetch, fetch, http, "/data/v1/download/1/tiny.arff")
    assert http.requests["/data/v1/download/1/tiny.arff"] == (1 if hooked else 2)
    assert read == [len(PAYLOAD)] * 2


def test_sklearn_file_in_the_cache_is_used_when_whole_and_replaced_when_not(tmp_path: Path) -> None:
    base = pytest.importorskip("sklearn.datasets._base")
    fetch_remote = library_downloads.locked_fetch_remote(base._fetch_remote)
    cache = tmp_path / "cache"
    cache.mkdir()
    with serve(_site(tmp_path)) as http:
        remote = base.RemoteFileMetadata(
            "tiny.bin", http.url + "/tiny.bin", hashlib.sha256(PAYLOAD).hexdigest()
        )
        (cache / "tiny.bin").write_bytes(PAYLOAD[:1000])  # a truncated file of an older tool
        assert fetch_remote(remote, dirname=str(cache)) == cache / "tiny.bin"
        assert http.requests["/tiny.bin"] == 1
        assert (cache / "tiny.bin").read_bytes() == PAYLOAD
        assert fetch_remote(remote, dirname=str(cache)) == cache / "tiny.bin"
        assert http.requests["/tiny.bin"] == 1  # whole now: read from the cache
    assert sorted(p.name for p in cache.iterdir()) == [".tiny.bin.lock", "tiny.bin"]


# a whole fetch_*: download, extract, convert, delete the archive. Real scikit-learn; only the
# archive's URL and sha256 are this test's (its synthetic archive is served locally)
FETCH_HOUSING = """
import os, sys, time
import sklearn.datasets
from sklearn.datasets import _california_housing as housing
url, checksum, home = sys.argv[1:]
housing.ARCHIVE = housing.ARCHIVE._replace(url=url, checksum=checksum)
calls = []
fetch_remote = housing._fetch_remote
housing._fetch_remote = lambda *a, **k: calls.append(1) or fetch_remote(*a, **k)
go = os.environ.get("GO")
while go and not os.path.exists(go):
    time.sleep(0.05)
data = sklearn.datasets.fetch_california_housing(data_home=home)
print("downloads", len(calls), "rows", data.data.shape[0], "target", round(data.target.sum(), 3))
"""


def _housing_archive(folder: Path) -> bytes:
    """A small archive laid out as California housing's (9 numeric columns)."""
    import io
    import tarfile

    rows = [
        ",".join(str(float(c + r)) for c in range(1, 10))
        for r in range(40)  # no zero: households (a divisor) are column 7
    ]
    text = ("\n".join(rows) + "\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        info.size = len(text)
        archive.addfile(info, io.BytesIO(text))
    (folder / "cal_housing.tgz").write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.mark.parametrize("through_agent", [True, False], ids=["agent", "without-hook"])
def test_two_trials_running_one_sklearn_fetch_never_extract_at_once(
    staged_agent: Path, tmp_path: Path, through_agent: bool
) -> None:
    pytest.importorskip("sklearn")
    site = tmp_path / "site"
    site.mkdir()
    checksum = hashlib.sha256(_housing_archive(site)).hexdigest()
    home = tmp_path / "cache" / "sklearn"
    with serve(site, delay=3.0) as http:
        args = [http.url + "/cal_housing.tgz", checksum, str(home)]
        procs, outputs = _two_trials(staged_agent, tmp_path, FETCH_HOUSING, args, through_agent,
                                     (http, "/cal_housing.tgz"))  # fmt: skip
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 or not through_agent, err[-3000:]
    assert "downloads 1 rows 40" in outputs[0][0], outputs[0]
    if through_agent:
        # trial 1 waited for trial 0's whole fetch (download, extraction, archive removed)
        # and read the converted data: it never reached the download step
        assert "downloads 0 rows 40" in outputs[1][0], outputs[1]
        assert http.requests["/cal_housing.tgz"] == 1
    else:  # both went through the download step at once
        assert "downloads 1" in outputs[1][0] or procs[1].returncode != 0, outputs[1]
        assert http.requests["/cal_housing.tgz"] == 2
    assert (home / "cal_housing_py3.pkz").is_file() and not (home / "cal_housing.tgz").exists()


def test_a_library_download_is_read_from_the_operators_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = pytest.importorskip("sklearn.datasets._base")
    fetch_remote = library_downloads.locked_fetch_remote(base._fetch_remote)
    mirror = tmp_path / "mirror"
    (mirror / "sklearn" / "data.example.org" / "files").mkdir(parents=True)
    (mirror / "sklearn" / "data.example.org" / "files" / "tiny.bin").write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    cache.mkdir()
    remote = base.RemoteFileMetadata(
        "tiny.bin", "https://data.example.org/files/tiny.bin", hashlib.sha256(PAYLOAD).hexdigest()
    )
    with serve(mirror) as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url + "/")
        assert fetch_remote(remote, dirname=str(cache)) == cache / "tiny.bin"
    assert http.requests == {"/sklearn/data.example.org/files/tiny.bin": 1}
    assert (cache / "tiny.bin").read_bytes() == PAYLOAD
    assert library_downloads.mirrored("https://h.org/a/b.tgz", "torchvision") == (
        f"{http.url}/torchvision/h.org/a/b.tgz"
    )
