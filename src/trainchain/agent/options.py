"""Parameters for command-line options: argparse (patched in place) and click (via default_map).

A parameter named like an option's ``dest`` (argparse) or parameter name (click) replaces the
script's default and satisfies ``required``; values given on the command line still win, as
they would for a user typing them. Both hooks are installed before the script runs; click is
patched only when the script imports it (it may not be installed).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from trainchain.agent.prompts import UnansweredPrompt
from trainchain.agent.state import TrialState, coerce_like

logger = logging.getLogger(__name__)

# Help/version are not parameters; a subcommand comes from the command line (choosing it by
# parameter would skip its own parser).
_SKIP_ACTIONS = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def _apply_to_parser(parser: argparse.ArgumentParser, state: TrialState) -> None:
    for action in parser._actions:
        if isinstance(action, _SKIP_ACTIONS) or action.dest not in state.params:
            continue
        value = state.params[action.dest]
        if isinstance(value, str) and action.type is not None and callable(action.type):
            value = action.type(value)  # argparse converts only string defaults itself
        else:
            value = coerce_like(action.default, value)
        action.default = value
        if action.option_strings:
            action.required = False
        elif action.nargs in (None, 1):
            action.nargs = "?"  # a positional that may now be omitted
            if isinstance(value, list):
                action.nargs = "*"
        elif action.nargs == "+":
            action.nargs = "*"
        action.required = False
        state.mark_applied(action.dest, value, "argparse")
    for group in parser._mutually_exclusive_groups:
        # ``(--adam | --sgd)`` required: a parameter for one member satisfies the group.
        if group.required and any(a.dest in state.params for a in group._group_actions):
            group.required = False


def install_argparse(state: TrialState) -> None:
    """Patch ``ArgumentParser.parse_known_args`` (``parse_args`` goes through it)."""
    for name in ("parse_known_args", "parse_known_intermixed_args"):
        original = getattr(argparse.ArgumentParser, name, None)
        if original is None:
            continue
        setattr(argparse.ArgumentParser, name, _wrap_parse(original, state))


def _wrap_parse(original: Callable[..., Any], state: TrialState) -> Callable[..., Any]:
    def parse(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        _apply_to_parser(self, state)
        return original(self, *args, **kwargs)

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    return parse


def patch_click(module: ModuleType, state: TrialState) -> None:
    """Called once ``click`` is imported: feed the parameters in as each command's default_map."""
    command_cls = getattr(module, "Command", None)
    if command_cls is None or getattr(command_cls.make_context, "_trainchain", False):
        return
    original = command_cls.make_context

    def make_context(
        self: Any, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        matched = {
            p.name: state.params[p.name]
            for p in getattr(self, "params", [])
            if p.name in state.params and p.name is not None
        }
        if matched:
            inherited = extra.get("default_map")
            if inherited is None and parent is not None and parent.default_map:
                inherited = parent.default_map.get(info_name)
            extra["default_map"] = {**(inherited or {}), **matched}
            for name, value in matched.items():
                state.mark_applied(name, value, "click")
        return original(self, info_name, args, parent=parent, **extra)

    make_context._trainchain = True  # type: ignore[attr-defined]
    command_cls.make_context = make_context
    _patch_click_prompts(module, state)


def _patch_click_prompts(module: ModuleType, state: TrialState) -> None:
    """``@click.option(..., prompt=...)``: click prompts even when default_map has the value.

    The parameter is the answer, whatever the prompt's wording ("How many epochs" for
    ``--n-epochs``); ``process_value`` converts it afterwards like a typed answer.
    """
    option_cls: Any = getattr(module, "Option", None)
    original = getattr(option_cls, "prompt_for_value", None)
    if original is None or getattr(original, "_trainchain", False):
        return

    def prompt_for_value(self: Any, ctx: Any) -> Any:
        if self.name is not None and self.name in state.params:
            value = state.params[self.name]
            state.mark_applied(self.name, value, "click")
            return value
        try:
            return original(self, ctx)
        except UnansweredPrompt as exc:  # name the option, which is what --param must set
            raise UnansweredPrompt(exc.prompt, self.name or exc.param) from None

    prompt_for_value._trainchain = True  # type: ignore[attr-defined]
    option_cls.prompt_for_value = prompt_for_value
