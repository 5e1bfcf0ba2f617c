"""A warm start: the attempt's interpreter is started while the previous trial trains, imports
the script's frameworks (TensorFlow takes about 3 s on this machine's cores), then waits for
its release: one JSON message ``{"argv", "args", "env"}`` on a pipe (local runtime) or a FIFO
(a Docker spare). Only then are the parameters, the seed and the rest of the attempt known.

``python -c 'from trainchain.agent.warm import main; main()' SOURCE MODULE...``, where SOURCE is
an inherited file descriptor or a FIFO path. End-of-file instead of a message (the controller
discarded the spare, or died): exit 0 without running anything.

The hooks of the frameworks imported here wait for the script's own import of them
(``imports.defer``), so the seeds and patches land where a cold start puts them. So do the
words an import draws from Python's ``random`` (Keras' import draws one): on a cold start they
come from the trial's seeded stream, and Keras seeds its layers' initializers from that stream,
so the warm start draws them again at the script's import. A framework that fails to import
ahead, or draws in a way that cannot be replayed, makes the release a cold start: the attempt's
command is exec'd in a fresh interpreter, whose import fails (or not) as it would have anyway.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import sys
import time

# Heavy imports worth doing ahead, in the order they are imported (numpy first: the frameworks
# import it), with the top-level names whose import by the script releases each one's hooks.
FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "keras", "tf_keras"),
    "keras": ("keras", "tensorflow", "tf_keras"),
    "tf_keras": ("tf_keras", "tensorflow", "keras"),
    "torch": ("torch", "torchvision"),
}
KERAS_HOME = "KERAS_HOME"
MAX_WORDS = 4096  # an import drawing more from Python's random than this is not replayed
Group = tuple[tuple[str, ...], list[str], int]  # triggers, modules, words drawn from random


def frameworks(imports: list[str] | tuple[str, ...]) -> list[str]:
    """What to import ahead for a script that imports ``imports`` (top-level names)."""
    wanted = [name for name in FRAMEWORKS if name in imports]
    if wanted and "numpy" not in wanted:
        wanted.insert(0, "numpy")
    if "tensorflow" in wanted:  # keras and tf_keras come with (or after) TensorFlow
        wanted = [n for n in wanted if n not in ("keras", "tf_keras")]
    return wanted


def preload(names: list[str]) -> tuple[list[Group], str | None]:
    """Import ``names`` in order: the groups for ``imports.defer``, and why not all of them
    could be imported (None when they were)."""
    groups: list[Group] = []
    if _keras_home_needs_shadow() and set(names) & {"tensorflow", "keras", "tf_keras"}:
        return groups, "the Keras dataset cache is read-only: Keras reads it at its import"
    path = list(sys.path)
    # installed packages only: no pushed code runs before the release (``-c`` puts the working
    # copy first); a working copy shadowing one of them makes the release cold (``shadowed``)
    sys.path[:] = [p for p in path if p not in ("", os.getcwd())]
    try:
        return _import_all(names, groups)
    finally:
        sys.path[:] = path


def _import_all(names: list[str], groups: list[Group]) -> tuple[list[Group], str | None]:
    for name in names:
        before, state = set(sys.modules), random.getstate()
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - a half import must not be run on
            return groups, f"importing {name} failed ({exc.__class__.__name__}: {exc})"
        words = words_drawn(state, random.getstate())
        if words is None:
            return groups, f"importing {name} draws from Python's random beyond a replay"
        groups.append((FRAMEWORKS.get(name, (name,)), sorted(set(sys.modules) - before), words))
    return groups, None


def words_drawn(before: tuple[object, ...], after: tuple[object, ...]) -> int | None:
    """How many 32-bit words of Python's ``random`` lie between two states (None: more than
    ``MAX_WORDS``, or a pending ``gauss`` value, which words alone do not replay)."""
    if after == before:
        return 0
    if after[2] is not None:
        return None
    probe = random.Random()
    probe.setstate(before)
    for words in range(1, MAX_WORDS + 1):
        probe.getrandbits(32)
        if probe.getstate() == after:
            return words
    return None


def _keras_home_needs_shadow() -> bool:
    """``dataset_cache`` would redirect KERAS_HOME before the script's import of Keras."""
    home = os.environ.get(KERAS_HOME)
    return home is not None and os.path.isdir(home) and not os.access(home, os.W_OK)


def shadowed(entrypoint: str, groups: list[Group]) -> str | None:
    """A module of the script's own directory that a cold start would have imported in place
    of one imported ahead (a ``six.py`` next to ``train.py`` shadows Keras' ``six``)."""
    project = os.path.dirname(os.path.abspath(entrypoint))
    tops = sorted({m.partition(".")[0] for _, modules, _ in groups for m in modules})
    for top in tops:
        base = os.path.join(project, top)
        if os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py")):
            return f"{entrypoint}'s directory has its own {top}"
    return None


# os.environ["KERAS_BACKEND"] = ..., .setdefault/.update(...), os.putenv(...), %env (notebooks)
_ENV_WRITE = re.compile(
    r"environ\s*(\[[^\]]*\]\s*=(?!=)|\.(setdefault|update)\s*\()|\bputenv\s*\(|%(set_)?env\b"
)


def sets_environment(entrypoint: str) -> str | None:
    """A script that writes environment variables (``KERAS_BACKEND``, ``TF_ENABLE_ONEDNN_OPTS``,
    read by the frameworks at their import) gets a cold start: a framework imported ahead read
    them before the script set them. The entrypoint and its directory's modules are read."""
    project = os.path.dirname(os.path.abspath(entrypoint))
    try:
        names = sorted(n for n in os.listdir(project) if n.endswith((".py", ".ipynb")))
    except OSError:
        names = []
    for name in dict.fromkeys([os.path.basename(entrypoint), *names]):
        try:
            with open(os.path.join(project, name), encoding="utf-8", errors="replace") as fh:
                text = fh.read(1_000_000)
        except OSError:
            continue
        if _ENV_WRITE.search(text):
            return f"{name} sets environment variables, which frameworks read at their import"
    return None


def read_release(source: str) -> bytes:
    """The release message (empty: end-of-file, no attempt comes)."""
    if source.isdigit():
        fd = int(source)
    else:
        fd = os.open(source, os.O_RDONLY)
    with os.fdopen(fd, "rb") as stream:
        return stream.read()


def main(argv: list[str] | None = None) -> None:
    source, *names = sys.argv[1:] if argv is None else argv
    started = time.monotonic()
    groups, failed = preload(names)
    imported = time.monotonic() - started
    from trainchain.agent import events, imports, runner  # standard library only; env read late

    message = read_release(source)
    if not message:
        sys.exit(0)
    release = json.loads(message)
    os.environ.update(release["env"])  # the spare's own are the attempt's, less its parameters
    random.seed()  # fresh entropy, as a new interpreter has (the agent seeds a seeded trial)
    failed = failed or shadowed(release["args"][0], groups)
    failed = failed or (sets_environment(release["args"][0]) if groups else None)
    if failed:
        print(f"trainchain: the warm start falls back to a cold one: {failed}", file=sys.stderr)
        os.execvpe(release["argv"][0], release["argv"], os.environ)
    imports.defer(groups)
    events.emit(
        "warm",
        imported=list(names),
        seconds=round(imported, 3),
        waited=round(time.monotonic() - started - imported, 3),
    )
    os.makedirs(os.environ.get("HOME") or "/tmp/home", exist_ok=True)
    sys.exit(runner.main(release["args"]))
