"""Benchmark the detector: a generated 1,000-file repository and ~10 MB of notebooks.

Run: ``python bench/bench_detect.py [--files 1000] [--notebook-mb 10] [--repeat 5] [--no-write]``.
Prints the figures and rewrites its own section of docs/benchmarks.md (between
``<!-- bench:detect -->`` and ``<!-- /bench:detect -->``), with the machine it ran on.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trainchain
from trainchain.profiles import detect

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:detect -->", "<!-- /bench:detect -->"

MODULE = '''"""Helper module {i} of a generated project."""
import os
import json
import numpy as np
from pkg{pkg} import util{prev}

SCALE_{i} = {i}
NAME_{i} = "feature_{i}"


class Transform{i}:
    def __init__(self, factor: float = 1.5) -> None:
        self.factor = factor

    def apply(self, x: np.ndarray) -> np.ndarray:
        # keras is only mentioned here, in a comment
        return np.clip(x * self.factor + SCALE_{i}, 0, None)


def load_{i}(path: str) -> dict:
    with open(os.path.join(path, NAME_{i} + ".json")) as fh:
        return json.load(fh)


def pipeline_{i}(values: list[float]) -> list[float]:
    out = []
    for v in values:
        if v > {i}:
            out.append(v / (1 + SCALE_{i}))
        else:
            out.append(v * 2)
    return [Transform{i}().apply(np.asarray(out)).sum()]
'''
TRAIN = """import argparse
from tensorflow import keras
from pkg0 import util0
from pkg1 import util1

EPOCHS = 5
UNITS = 64


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    model = keras.Sequential([keras.layers.Conv2D(32, 3), keras.layers.Flatten(),
                              keras.layers.Dense(UNITS), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss="mse")
    model.fit(util0.load_0("x"), util1.load_1("y"), epochs=EPOCHS)


if __name__ == "__main__":
    main()
"""


def make_repo(root: Path, files: int) -> int:
    """``files`` Python files: namespace packages of 50 modules plus train.py; returns bytes."""
    size = 0
    for i in range(files - 1):
        pkg = i // 50
        folder = root / f"pkg{pkg}"
        folder.mkdir(exist_ok=True)
        text = MODULE.format(i=i, pkg=pkg, prev=max(pkg * 50, i - 1))
        (folder / f"util{i}.py").write_text(text)
        size += len(text)
    (root / "train.py").write_text(TRAIN)
    return size + len(TRAIN)


def make_notebooks(root: Path, megabytes: float) -> int:
    """Notebooks with code, markdown and image outputs (as real ones are) up to ``megabytes``."""
    png = base64.b64encode(os.urandom(60_000)).decode()
    cell = "import numpy as np\nx = np.random.rand(100)\n%matplotlib inline\nprint(x.mean())\n" * 5
    size, n = 0, 0
    while size < megabytes * 1_000_000:
        cells = []
        for k in range(40):
            cells.append({"cell_type": "markdown", "metadata": {}, "source": f"## step {k}\n"})
            outputs = (
                [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": png, "text/plain": "<Figure>"},
                    }
                ]
                if k % 4 == 0
                else []
            )
            cells.append(
                {
                    "cell_type": "code",
                    "metadata": {},
                    "execution_count": k,
                    "outputs": outputs,
                    "source": cell,
                }
            )
        cells.append(
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 99,
                "outputs": [],
                "source": "from sklearn.ensemble import RandomForestClassifier\n"
                "RandomForestClassifier().fit(x.reshape(-1, 1), x > 0.5)\n",
            }
        )
        text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        (root / f"analysis_{n:03d}.ipynb").write_text(text)
        size += len(text)
        n += 1
    return size


def timed(path: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeat`` runs (CPU time shows the cost on a busy machine)."""
    detect(path)  # warm the OS cache and our imports; not counted
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        detect(path)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "unknown memory"
    return (
        f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {memory}, {cpu}; "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def write_section(text: str) -> None:
    DOC.parent.mkdir(exist_ok=True)
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nFigures written by `bench/`.\n"
    block = f"{BEGIN}\n{text.rstrip()}\n{END}"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + block + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--notebook-mb", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp, "repo")
        repo.mkdir()
        size = make_repo(repo, args.files)
        count = sum(1 for _ in repo.rglob("*.py"))
        result = detect(repo)
        assert result.entrypoint == "train.py" and result.profile == "keras", result
        rows.append((f"{count:,} Python files ({size / 1e6:.1f} MB)", timed(repo, args.repeat)))
        nbs = Path(tmp, "notebooks")
        nbs.mkdir()
        size = make_notebooks(nbs, args.notebook_mb)
        count = sum(1 for _ in nbs.glob("*.ipynb"))
        assert detect(nbs).profile == "sklearn"
        rows.append((f"{count} notebooks ({size / 1e6:.1f} MB)", timed(nbs, args.repeat)))
    lines = [
        "## Detection (`bench/bench_detect.py`)",
        "",
        f"`detect()` on generated projects, median of {args.repeat} runs after one warm-up "
        "(files in the OS cache). Target: well under a second for 1,000 files.",
        "",
        "| project | median wall | min wall | max wall | median CPU |",
        "|---|---|---|---|---|",
    ]
    for label, (wall, cpu) in rows:
        lines.append(
            f"| {label} | {statistics.median(wall) * 1000:.0f} ms | "
            f"{min(wall) * 1000:.0f} ms | {max(wall) * 1000:.0f} ms | "
            f"{statistics.median(cpu) * 1000:.0f} ms |"
        )
    load = os.getloadavg()
    lines += [
        "",
        f"Machine: {machine()}; load average {load[0]:.1f} / {load[1]:.1f} (1/5 min) "
        "while it ran (the machine is shared; wall time grows with the load, CPU time "
        "much less).",
        f"trainchain {trainchain.__version__}, "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwritten to {DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
