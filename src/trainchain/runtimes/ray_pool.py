"""The controller's host actors for the Ray runtime: a trial's resources as actor options, and
the pool of idle hosts this process reuses across attempts (Ray Tune's ``reuse_actors``).

Only this process uses its hosts, so a host is never raced for. An attempt finding no idle host
of its resources creates one (Ray places it, or queues it until a node has the resources) and,
while it waits, takes the first host of its shape another attempt gives back: idle hosts hold
their CPUs, so a queued new host might otherwise wait forever behind them.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from trainchain.errors import ConfigError
from trainchain.runtimes.base import Resources

log = logging.getLogger(__name__)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def memory_bytes(text: str | None) -> int | None:
    """``"4g"`` -> 4 GiB in bytes (Ray's ``memory`` resource); None stays None."""
    if not text:
        return None
    match = _MEMORY.match(text)
    if not match:
        raise ConfigError(f"resources.memory {text!r} is not a size: write e.g. 512m or 4g")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    return int(float(match.group(1)) * scale[match.group(2).lower()])


def host_options(resources: Resources) -> dict[str, Any]:
    """Ray actor options for a trial's resources (one CPU when unset)."""
    options: dict[str, Any] = {"num_cpus": float(resources.cpus or 1)}
    if resources.gpus:
        options["num_gpus"] = float(resources.gpus)
    memory = memory_bytes(resources.memory)
    if memory:
        options["memory"] = memory
    if resources.custom:
        options["resources"] = {k: float(v) for k, v in sorted(resources.custom.items())}
    return options


def check_fits(nodes: list[dict[str, Any]], options: dict[str, Any]) -> None:
    """A trial asking for more than any live node has would wait forever: say so instead."""
    wanted = {"CPU": float(options["num_cpus"])}
    if options.get("num_gpus"):
        wanted["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        wanted["memory"] = float(options["memory"])
    wanted.update(options.get("resources") or {})
    have = [n["Resources"] for n in nodes if n.get("Alive")]
    if any(all(node.get(k, 0) >= v for k, v in wanted.items()) for node in have):
        return
    asked = ", ".join(_shown(k, v) for k, v in sorted(wanted.items()))
    shown = "; ".join(", ".join(_shown(k, node.get(k, 0)) for k in sorted(wanted)) for node in have)
    raise ConfigError(
        f"a trial asks for {asked} but no live Ray node has that much (nodes: "
        f"{shown or 'none'}): lower `resources:` (cpus, gpus, memory, custom) in the operator's "
        "settings, or add a node that has them (`ray start ... --num-gpus N --resources "
        "'{\"NAME\": N}'`)"
    )


def _shown(name: str, amount: float) -> str:
    if name == "memory":
        return f"{amount / (1 << 30):.1f} GiB memory"
    return f"{amount:g} {name}"


def shape(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True)


@dataclass
class Host:
    name: str
    actor: Any
    since: float = 0.0  # when it became idle


@dataclass
class Waiter:
    """An attempt waiting for its new host to be placed; a host given back meanwhile is
    offered to it."""

    shape: str
    offered: Host | None = None
    event: threading.Event = field(default_factory=threading.Event)


class Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[str, list[Host]] = {}
        self.waiters: list[Waiter] = []
        self.hooked = False

    def close(self) -> None:
        """Remove the idle hosts (this process is ending: nobody will reuse them)."""
        with self.lock:
            hosts = [h for hs in self.idle.values() for h in hs]
            self.idle = {}
        for host in hosts:
            kill_quietly(host.actor)

    def take(self, shape: str, fresh_for: float) -> Host | None:
        """An idle host of ``shape`` idle for less than ``fresh_for`` seconds (older ones are
        about to leave by themselves). Taking one of a shape frees the idle hosts of others."""
        stale: list[Host] = []
        found = None
        with self.lock:
            hosts = self.idle.get(shape) or []
            while hosts and found is None:
                host = hosts.pop()
                if time.monotonic() - host.since < fresh_for:
                    found = host
                else:
                    stale.append(host)
            if found is None:  # a new host will be made: idle ones of other shapes hold resources
                for other, rest in self.idle.items():
                    if other != shape:
                        stale.extend(rest)
                self.idle = {shape: hosts}
        for host in stale:
            kill_quietly(host.actor)
        return found

    def wait_for(self, shape: str) -> Waiter:
        waiter = Waiter(shape)
        with self.lock:
            self.waiters.append(waiter)
        return waiter

    def withdraw(self, waiter: Waiter) -> None:
        """Stop waiting; a host offered meanwhile goes back to the pool."""
        with self.lock:
            if waiter in self.waiters:
                self.waiters.remove(waiter)
            offered, waiter.offered = waiter.offered, None
        if offered is not None:
            self.give_back(waiter.shape, offered)

    def give_back(self, shape: str, host: Host) -> None:
        """An idle host: to an attempt waiting for one of its shape, else kept (or, when only
        attempts of other shapes wait, removed to free its resources)."""
        host.since = time.monotonic()
        with self.lock:
            waiter = next((w for w in self.waiters if w.shape == shape), None)
            if waiter is not None:
                self.waiters.remove(waiter)
                waiter.offered = host
                waiter.event.set()
                return
            if not self.waiters:
                self.idle.setdefault(shape, []).append(host)
                if not self.hooked:  # after ray.init's exit hook: registered later, runs first
                    atexit.register(self.close)
                    self.hooked = True
                return
        kill_quietly(host.actor)


def kill_quietly(actor: Any) -> None:
    import ray

    if not ray.is_initialized():  # ray.kill would start (or wait for) a cluster of its own
        return
    try:
        ray.kill(actor)
    except Exception:  # noqa: BLE001 - already gone
        log.debug("killing a Ray host actor failed", exc_info=True)


POOL = Pool()
