"""Queries over ``table.json``: profile -> pinned packages (data, not code)."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from trainchain.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@cache
def load_table() -> dict[str, Any]:
    text = resources.files("trainchain.profiles").joinpath("table.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def profile_names() -> list[str]:
    return list(load_table()["profiles"])


def profile_packages(profile: str) -> tuple[str, ...]:
    """The pinned packages of ``profile``'s environment."""
    profiles = load_table()["profiles"]
    if profile not in profiles:
        raise ConfigError(
            f"unknown profile {profile!r}: choose one of {', '.join(profiles)} "
            "(profile: in trainchain.yaml)"
        )
    return tuple(profiles[profile]["packages"])


def package_name(requirement: str) -> str:
    """``'tensorflow-cpu==2.21.0'`` -> ``'tensorflow-cpu'`` (normalised, lower case)."""
    match = _NAME.match(requirement.strip())
    return match.group(0).lower().replace("_", "-") if match else requirement.strip().lower()


def env_packages(profile: str, imports: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The profile's pins plus pins for extra third-party imports the project uses."""
    pins = list(profile_packages(profile))
    have = {package_name(p) for p in pins}
    for module in imports:
        pin = load_table()["imports"].get(module)
        if pin and package_name(pin) not in have:
            pins.append(pin)
            have.add(package_name(pin))
    return tuple(pins)
