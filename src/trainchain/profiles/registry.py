"""The profile registry: which profiles exist, in which order they are asked, their packages.

A profile is one module: the built-in ones are the modules of this package that define
``PROFILE`` (found by listing the package, so adding a module is enough); other packages add
theirs through the ``trainchain.profiles`` entry-point group (``name = "module:attr"``, the
attribute a ``Profile`` instance); ``register`` adds one at run time (tests, embedding).
Nothing here imports a framework.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from importlib.metadata import entry_points

from trainchain.errors import ConfigError
from trainchain.profiles.base import Profile, package_name

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "trainchain.profiles"

_lock = threading.Lock()
_loaded: dict[str, Profile] | None = None
_registered: dict[str, Profile] = {}


def profiles() -> tuple[Profile, ...]:
    """Every profile in the order they are asked: ``priority``, then name; fallback last."""
    with _lock:
        found = dict(_discover())
        found.update(_registered)
    return tuple(sorted(found.values(), key=lambda p: (p.priority, p.name)))


def register(profile: Profile) -> None:
    """Add (or replace, by name) a profile for the rest of this process."""
    _check(profile)
    with _lock:
        _registered[profile.name] = profile


def unregister(name: str) -> None:
    with _lock:
        _registered.pop(name, None)


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (as in ``profile:`` of trainchain.yaml)."""
    for profile in profiles():
        if profile.name == name:
            return profile
    raise ConfigError(
        f"unknown profile {name!r}: choose one of {', '.join(profile_names())} "
        "(profile: in trainchain.yaml)"
    )


def profile_names() -> list[str]:
    return [p.name for p in profiles()]


def profile_packages(name: str) -> tuple[str, ...]:
    """The pinned packages of ``name``'s environment (ConfigError for an unknown profile)."""
    return get_profile(name).pins


def import_pins() -> dict[str, str]:
    """Top-level import -> pin, over every profile (a module two profiles pin differently is
    an error: the environment of a project must not depend on which profiles exist)."""
    pins: dict[str, str] = {}
    for profile in profiles():
        for module, pin in profile.import_pins.items():
            if pins.setdefault(module, pin) != pin:
                raise ConfigError(
                    f"profile {profile.name!r} pins import {module!r} as {pin!r}, another "
                    f"profile as {pins[module]!r}: give the module one pin"
                )
    return pins


def env_packages(name: str, imports: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The profile's pins plus pins for extra third-party imports the project uses."""
    pins = list(profile_packages(name))
    have = {package_name(p) for p in pins}
    table = import_pins()
    for module in imports:
        pin = table.get(module)
        if pin and package_name(pin) not in have:
            pins.append(pin)
            have.add(package_name(pin))
    return tuple(pins)


def _discover() -> dict[str, Profile]:
    """Built-in profile modules and entry points, loaded once per process."""
    global _loaded
    if _loaded is None:
        found: dict[str, Profile] = {}
        package = importlib.import_module("trainchain.profiles")
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"trainchain.profiles.{info.name}")
            profile = getattr(module, "PROFILE", None)
            if isinstance(profile, Profile):
                found[profile.name] = profile
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = entry.load()
            except Exception as exc:  # a broken plug-in must not stop the built-in ones
                log.warning("profile plug-in %s failed to load: %s", entry.value, exc)
                continue
            if isinstance(loaded, Profile):
                found[loaded.name] = loaded
            else:
                log.warning("profile plug-in %s is not a Profile instance", entry.value)
        for profile in found.values():
            _check(profile)
        _loaded = found
    return _loaded


def _check(profile: Profile) -> None:
    for attr in ("name", "framework", "description"):
        if not getattr(profile, attr, ""):
            raise ConfigError(f"profile {type(profile).__name__} has no {attr}")
    names = [package_name(p) for p in profile.pins]
    bad = [p for p in profile.pins if "==" not in p]
    if bad or len(names) != len(set(names)):
        raise ConfigError(
            f"profile {profile.name!r}: every package must be pinned once with == "
            f"(got {', '.join(profile.pins)})"
        )
