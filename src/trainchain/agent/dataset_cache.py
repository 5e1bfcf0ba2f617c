"""A read-only dataset cache that Keras will still read (standard library only).

Keras' ``get_file`` ignores ``KERAS_HOME`` when it cannot write there and downloads again into
``/tmp/.keras``, which fails offline. Trials see the machine's cache read-only (pushed code must
not be able to change what other projects train on), so the agent gives Keras a writable
shadow of it: the same directories, each file a symlink to the cached one. A file Keras finds
is read from the cache; anything it writes (an extraction, a new download) stays in the shadow.
"""

from __future__ import annotations

import os
import tempfile

from trainchain.agent import contract, events


def install() -> str | None:
    """Point ``KERAS_HOME`` at a writable shadow when it names a cache this process cannot
    write; return the shadow's path, or None when nothing had to change."""
    home = os.environ.get(contract.KERAS_HOME)
    if not home or not os.path.isdir(home) or os.access(home, os.W_OK):
        return None
    shadow = tempfile.mkdtemp(prefix="trainchain-keras-home-")
    _mirror(home, shadow)
    os.environ[contract.KERAS_HOME] = shadow
    events.emit("dataset_cache", cache=home, shadow=shadow, why="the cache is read-only here")
    return shadow


def _mirror(source: str, target: str) -> None:
    for root, dirs, files in os.walk(source):
        here = os.path.join(target, os.path.relpath(root, source))
        os.makedirs(here, exist_ok=True)
        for name in files:
            os.symlink(os.path.join(root, name), os.path.join(here, name))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
