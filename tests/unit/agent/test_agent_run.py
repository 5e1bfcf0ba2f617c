"""Running the entrypoint: __main__ semantics, notebooks, exit codes, errors, standalone."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from conftest import RunAgent, agent_env


def test_runs_as_main_with_file_argv_and_path(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        import sys, pickle
        import helper
        class Point:  # pickling a class defined in the script needs a real __main__
            pass
        print(__name__, __file__, sys.argv, sys.path[0], helper.VALUE)
        print(len(pickle.dumps(Point())) > 0)
        """,
        "--flag",
        "x",
        files={"helper.py": "VALUE = 42\n"},
    )
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    workdir = str(run.workdir)
    assert first == f"__main__ {workdir}/train.py ['train.py', '--flag', 'x'] {workdir} 42"
    assert second == "True"
    start = run.of("start")[0]
    assert start["entrypoint"] == "train.py" and start["argv"] == ["--flag", "x"]
    assert start["resumed"] is False
    assert run.end == {**run.end, "status": "ok", "exception": None}


def test_exception_location_is_the_innermost_user_frame(run_agent: RunAgent) -> None:
    run = run_agent(
        """
        import json
        import helper

        def main():
            helper.load("{broken")

        main()
        """,
        files={"helper.py": "import json\n\n\ndef load(text):\n    return json.loads(text)\n"},
    )
    assert run.returncode == 1
    exc = run.end["exception"]
    assert exc["type"] == "JSONDecodeError"
    assert (exc["file"], exc["line"]) == ("helper.py", 5)  # not json/decoder.py
    # The traceback is the user's: it starts at train.py and shows no agent frame.
    assert 'File "' + str(run.workdir / "train.py") + '", line 8' in run.stderr
    assert "trainchain/agent" not in run.stderr


def test_syntax_error_points_at_the_file_and_line(run_agent: RunAgent) -> None:
    run = run_agent("x = 1\ny = 2\nprint(x y)\n")
    assert run.returncode == 1
    assert run.end["exception"]["type"] == "SyntaxError"
    assert (run.end["exception"]["file"], run.end["exception"]["line"]) == ("train.py", 3)
    assert "line 3" in run.stderr and "SyntaxError" in run.stderr
    assert "ast.py" not in run.stderr


def test_exit_codes_are_preserved(run_agent: RunAgent) -> None:
    run = run_agent("import sys\nprint('bye')\nsys.exit(3)\n")
    assert run.returncode == 3
    assert run.end["status"] == "error" and run.end["exception"]["type"] == "SystemExit"
    run = run_agent("import sys\nsys.exit(0)\n")
    assert run.returncode == 0 and run.end["status"] == "ok"
    run = run_agent("import sys\nsys.exit('fatal: no data')\n")
    assert run.returncode == 1 and "fatal: no data" in run.stderr


def test_notebook_cells_run_in_order_with_magics_skipped(run_agent: RunAgent) -> None:
    cells = [
        ("markdown", "# Title"),
        ("code", "%matplotlib inline\n!pip install nothing\nEPOCHS = 2\nvalues = []"),
        ("code", "%%time\nfor i in range(EPOCHS):\n    %time values.append(i)\n"),
        ("code", "%%bash\necho this is not python"),
        ("code", "print('values', values)\nprint('val_accuracy: 0.75')"),
        ("code", "raise RuntimeError('cell five')"),
    ]
    nb = {
        "cells": [
            {"cell_type": kind, "source": text.splitlines(keepends=True), "metadata": {},
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for kind, text in cells
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    run = run_agent(json.dumps(nb), name="train.ipynb", params={"EPOCHS": 3})
    assert run.returncode == 1
    assert run.stdout.splitlines() == ["values [0, 1, 2]", "val_accuracy: 0.75"]
    assert run.params() == {"EPOCHS": (3, "constant")}
    assert run.metrics("stdout") == {"val_accuracy": 0.75}
    exc = run.end["exception"]
    assert (exc["type"], exc["file"], exc["line"]) == ("RuntimeError", "train.ipynb#cell6", 1)
    assert "raise RuntimeError('cell five')" in run.stderr  # linecache shows the cell's source


def test_standalone_without_any_environment(run_agent: RunAgent) -> None:
    run = run_agent("print('accuracy: 0.5')\n", bare=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "accuracy: 0.5\n"
    assert not (run.workdir / "events.jsonl").exists()
    assert not list(run.workdir.rglob("events.jsonl"))
    # With only an output directory, events go next to the outputs.
    run = run_agent(
        "print('accuracy: 0.5')\n", bare=True, extra_env={"TRAINCHAIN_OUTPUT_DIR": "out"}
    )
    events_file = run.workdir / "out" / "events.jsonl"
    kinds = [json.loads(line)["type"] for line in events_file.read_text().splitlines()]
    assert kinds == ["start", "metric", "end"]


def test_standalone_prompt_asks_the_real_terminal(staged_agent: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("n = int(input('Enter no_of_epoch: '))\nprint('got', n)\n")
    env = {k: v for k, v in agent_env(staged_agent, tmp_path, None).items()
           if not k.startswith("TRAINCHAIN_")}  # fmt: skip
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainchain.agent", "train.py"],
        cwd=tmp_path,
        env=env,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(slave)
    os.write(master, b"4\n")
    out, err = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0, err
    assert out.endswith("got 4\n")
