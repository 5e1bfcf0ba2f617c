"""Replay one detected dataset download into the dataset cache (standard library only).

``python -m trainchain.agent.fetch_replay SPEC``: the controller runs this, never the user's
script, in a short-lived container of the trial's image that has network and the cache mounted
writable (``runtimes.docker_prefetch``), before any trial. ``SPEC`` is JSON ``{"call", "args",
"kwargs"}``: a library's download function (only those below) and the literal arguments the
script gave it, with the cache path filled in by ``trainchain.dataset_replay``. The library
downloads under the agent's hooks (``library_downloads``: the per-file lock, the mirror).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import time
from typing import Any

from trainchain.agent import imports, library_downloads

# the only callables a replay may name: a library's dataset downloaders
CALLS = re.compile(
    r"(sklearn\.datasets\.fetch_\w+"
    r"|torchvision\.datasets\.[A-Z]\w*"
    r"|tensorflow_datasets\.(load|builder))"
)


def replay(spec: dict[str, Any]) -> Any:
    """Call ``spec["call"]`` with its arguments; a tfds builder also downloads and prepares."""
    call = str(spec.get("call", ""))
    if not CALLS.fullmatch(call):
        raise ValueError(f"{call!r} is not a dataset download trainchain replays")
    module_name, _, attribute = call.rpartition(".")
    function = getattr(importlib.import_module(module_name), attribute)
    result = function(*spec.get("args") or [], **spec.get("kwargs") or {})
    if call == "tensorflow_datasets.builder":
        result.download_and_prepare()
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m trainchain.agent.fetch_replay SPEC", file=sys.stderr)
        return 2
    spec = json.loads(argv[0])
    imports.install(library_downloads.HOOKS)
    started = time.monotonic()
    try:
        replay(spec)
    except Exception as exc:  # noqa: BLE001 - the controller reports it, with the call
        print(f"{spec.get('call')}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{spec['call']}: done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
