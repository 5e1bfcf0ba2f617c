"""``input()`` answered from the parameters, matched by the prompt's text.

``Enter no_of_epoch:`` is answered by the parameter ``no_of_epoch`` (``naming.prompt_param_name``
gives the name; failing an exact match, a parameter whose name appears in the prompt as whole
words). A bare ``input()`` is asked by what was printed last since the previous answer
(``print("Enter no_of_epoch:"); input()``), else named by the variable it is assigned to
(``batch = int(input())``), as the detector names it. The answer is echoed as a terminal
would. A prompt no parameter answers is read from ``sys.stdin`` when the script pointed it at
a file (``sys.stdin = open("input.txt")``); otherwise it ends the trial with exit code 2 and the
parameter to set; standalone with a terminal, the real user is asked.
"""

from __future__ import annotations

import builtins
import re
import sys
from collections.abc import Callable
from typing import Any

from trainchain.agent import events
from trainchain.agent.naming import prompt_param_name
from trainchain.agent.state import TrialState

_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


class UnansweredPrompt(BaseException):
    """The script asked a question no parameter answers.

    A ``BaseException`` (like ``SystemExit``) so a script's ``except Exception`` cannot swallow
    it and loop on the prompt forever.
    """

    exit_code = 2

    def __init__(self, prompt: str, param: str) -> None:
        self.prompt = prompt
        self.param = param
        super().__init__(
            f"the script asked {prompt.strip()!r} and no parameter answers it; "
            f"set it with --param {param}=<value> (or params: {param} in trainchain.yaml)"
        )


def match_param(prompt: str, params: dict[str, Any]) -> str | None:
    """The parameter that answers ``prompt``: exact name first, then a name inside the prompt."""
    name = prompt_param_name(prompt)
    if name in params:
        return name
    normalized = {_NON_WORD.sub("_", p).strip("_").lower(): p for p in params}
    if name in normalized:
        return normalized[name]
    padded = f"_{name}_"
    for key in sorted(normalized, key=len, reverse=True):  # the most specific name wins
        if key and f"_{key}_" in padded:
            return normalized[key]
    return None


def _as_answer(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value)
    return str(value)


def install(state: TrialState) -> Callable[..., str]:
    """Replace ``builtins.input``; return the original (for the terminal fallback)."""
    original = builtins.input

    def answer(prompt: object = "") -> str:
        text = str(prompt)
        caller = sys._getframe(1)
        # ``print("Enter no_of_epoch:"); input()``: the question is what was printed last.
        asked = text if text.strip() else _on_screen()
        if not asked.strip():  # nothing on screen: ``batch = int(input())`` asks for batch
            asked = _assigned_name(caller) or ""
        param = match_param(asked, state.params) if asked.strip() else None
        if param is None:
            if not state.under_controller and _stdin_is_tty():
                return original(prompt)
            if _stdin_redirected():  # ``sys.stdin = open("input.txt")``: the file answers
                return original(prompt)
            if not asked.strip():  # a bare input() whose answer is not even assigned
                where = f"{caller.f_code.co_filename.rsplit('/', 1)[-1]}:{caller.f_lineno}"
                raise UnansweredPrompt(f"input() at {where}", "NAME")
            raise UnansweredPrompt(asked, prompt_param_name(asked))
        reply = _as_answer(state.params[param])
        # What a terminal would show; written past the stdout metric parser (not a metric).
        write = getattr(sys.stdout, "write_unparsed", sys.stdout.write)
        write(f"{text}{reply}\n")
        sys.stdout.flush()
        events.emit("prompt", prompt=asked, param=param, value=state.params[param])
        state.mark_applied(param, state.params[param], "prompt")
        return reply

    builtins.input = answer
    return original


def _assigned_name(frame: Any) -> str | None:
    """``batch = int(input())`` -> ``"batch"``: the variable the caller's line assigns."""
    import ast
    import linecache

    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    try:
        node = ast.parse(line).body[0] if line else None
    except SyntaxError:  # a statement spread over several lines
        return None
    if isinstance(node, ast.Assign | ast.AnnAssign):
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if isinstance(target, ast.Name):
            return target.id
    return None


def _on_screen() -> str:
    on_screen = getattr(sys.stdout, "on_screen", None)
    return str(on_screen()) if callable(on_screen) else ""


def _stdin_redirected() -> bool:
    """The script pointed ``sys.stdin`` at a file of its own (not the process's stdin)."""
    return sys.stdin is not None and sys.stdin is not sys.__stdin__


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
