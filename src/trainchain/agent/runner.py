"""Run the user's entrypoint as ``__main__`` with the trial's parameters and metric capture.

Order: read the environment -> install the hooks (argparse, ``input``, post-import hooks for
Keras, click, scikit-learn and the dataset downloaders) -> tee stdout -> compile (constants
rewritten) -> execute -> read ``metrics.json``, save a scikit-learn model -> ``end`` event, and
exit with the script's own exit code (1 for an exception or a SyntaxError, 2 for an unanswered
prompt).
"""

from __future__ import annotations

import builtins
import functools
import logging
import os
import sys
import time
import types
from typing import Any

from trainchain.agent import (
    dataset_cache,
    download_lock,
    events,
    imports,
    keras_hooks,
    library_downloads,
    options,
    outcome,
    pathmap,
    prompts,
    seeding,
    shared_files,
    signals,
    sklearn_hook,
    source,
    state,
)
from trainchain.agent.stdout_metrics import StdoutTee, parse_line

logger = logging.getLogger("trainchain.agent")

USAGE = "usage: python -m trainchain.agent ENTRYPOINT [ARGS...]  (a .py script or a .ipynb)"


def main(argv: list[str]) -> int:
    _configure_logging()
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    entrypoint, args = argv[0], argv[1:]
    try:
        st = state.init()
    except state.ParamsError as exc:
        logger.error("%s", exc)
        return 2
    path = os.path.abspath(entrypoint)
    if not os.path.isfile(path):
        message = f"entrypoint {entrypoint!r} not found in {os.getcwd()}; pass a .py or .ipynb"
        logger.error("%s", message)
        events.emit(
            "end",
            status="error",
            exception={"type": "FileNotFoundError", "message": message, "file": None, "line": None},
        )
        return 2
    _install_hooks(st)
    pathmap.install()
    dataset_cache.install()  # before the script imports Keras, which reads KERAS_HOME once
    seeding.install()  # before the script: its random architecture is drawn the same way
    events.emit(
        "start",
        entrypoint=entrypoint,
        argv=args,
        pid=os.getpid(),
        resumed=_has_checkpoint(st.checkpoint_dir),
    )
    signals.install(os.path.dirname(path))
    code = _run(st, entrypoint, path, args)
    if signals.was_terminated():
        signals.die_like_terminated()  # the controller must still see "killed by SIGTERM"
    return code


def _configure_logging() -> None:
    # Our own logger only: the script's logging.basicConfig must keep working.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("trainchain: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _install_hooks(st: state.TrialState) -> None:
    shared_files.install(os.getcwd())  # the working tree shares the commit's files
    options.install_argparse(st)
    prompts.install(st)
    imports.install(
        {
            "keras": keras_hooks.patch,
            "tf_keras": keras_hooks.patch,
            "click": functools.partial(options.patch_click, state=st),
            "sklearn.base": sklearn_hook.patch,
            **dict.fromkeys(download_lock.KERAS_DOWNLOADERS, download_lock.patch_keras),
            **library_downloads.HOOKS,
        }
    )


def _has_checkpoint(directory: str) -> bool:
    return os.path.isdir(directory) and any(os.scandir(directory))


def _main_module(path: str) -> dict[str, Any]:
    module = types.ModuleType("__main__")
    module.__dict__.update(
        __file__=path,
        __builtins__=builtins,
        __spec__=None,
        __loader__=None,
        __package__=None,
        __cached__=None,
    )
    sys.modules["__main__"] = module  # pickling classes defined in the script works
    return module.__dict__


def _run(st: state.TrialState, entrypoint: str, path: str, args: list[str]) -> int:
    project_dir = os.path.dirname(path)
    sys.argv = [entrypoint, *args]
    sys.path[0] = project_dir
    started_at = time.time()
    real_stdout = sys.stdout
    tee = StdoutTee(real_stdout, functools.partial(_on_line, st))
    sys.stdout = tee
    code = 0
    error: BaseException | None = None
    try:
        units = source.read_units(path)
        compiled = [
            source.compile_unit(u, st.params, functools.partial(st.mark_applied, how="constant"))
            for u in units
        ]
        namespace = _main_module(path)
        if path.endswith(".ipynb"):
            namespace.update(source.notebook_builtins())
        for unit_code in compiled:
            exec(unit_code, namespace)
    except SyntaxError as exc:  # in the entrypoint itself (raised before anything ran)
        outcome.print_exception(exc)
        code, error = 1, exc
    except SystemExit as exc:
        code = _exit_code(exc)
        if code:
            error = exc
    except prompts.UnansweredPrompt as exc:
        logger.error("%s", exc)
        code, error = exc.exit_code, exc
    except KeyboardInterrupt as exc:
        outcome.print_exception(exc)
        code, error = 130, exc
    except signals.Terminated as exc:
        logger.error("%s", exc)
        code, error = 143, exc
    except BaseException as exc:  # noqa: BLE001 - the script's failure, reported like Python
        outcome.print_exception(exc)
        code, error = 1, exc
    finally:
        _flush(tee)
        sys.stdout = real_stdout
    _finish(st, started_at, error, project_dir)
    return code


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # sys.exit("message") prints it and exits with 1
    return 1


def _on_line(st: state.TrialState, line: str) -> None:
    if st.keras_busy:
        return  # Keras' own output; the Keras hooks report these metrics exactly
    for name, value in parse_line(line):
        events.emit("metric", name=name, value=value, source="stdout")


def _flush(tee: StdoutTee) -> None:
    try:
        tee.close_pending()
        tee.flush()
    except (OSError, ValueError):
        pass  # stdout closed by the script


def _finish(
    st: state.TrialState, started_at: float, error: BaseException | None, project_dir: str
) -> None:
    outcome.read_metrics_json(st.output_dir, started_at)
    # A script failing after its training finished (a load_model of a file it never saved, a
    # plot): the trial keeps what training produced. Exits and signals stay failures.
    after_training = error is not None and _is_crash(error) and st.after_training()
    estimator = sklearn_hook.last_fitted()
    if (error is None or after_training) and estimator is not None and not st.model_logged:
        try:
            sklearn_hook.save_estimator(estimator, st.output_dir)
        except Exception as exc:  # noqa: BLE001 - the training itself succeeded
            logger.warning(
                "could not save the fitted %s (%s: %s)",
                type(estimator).__name__,
                type(exc).__name__,
                exc,
            )
    unused = sorted(set(st.params) - st.applied_names())
    if unused:
        logger.warning(
            "parameters not applied by the agent (no constant, option, prompt or "
            "Keras hook matched; fine if the script reads TRAINCHAIN_PARAMS): %s",
            ", ".join(unused),
        )
        events.emit("params_unused", names=unused)
    if error is None:
        outcome.end_ok()
    else:
        outcome.end_error(error, project_dir, after_training=after_training)


def _is_crash(error: BaseException) -> bool:
    """An exception of the script's own (not an exit, a Ctrl-C, a stop or a missing answer)."""
    return isinstance(error, Exception) and not isinstance(
        error, signals.Terminated | prompts.UnansweredPrompt | SyntaxError
    )
