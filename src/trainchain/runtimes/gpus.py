"""Which GPUs an attempt gets, on every runtime.

- ray: the host actor holds Ray's ``num_gpus``; it reads the ids Ray assigned it and the attempt
  gets exactly those (``TrialSpec.gpu_ids``): ``CUDA_VISIBLE_DEVICES=<ids>`` for a venv attempt
  (whose environment is built from scratch, never the actor's), a device request for those ids
  for a container. An attempt that asked for none gets ``CUDA_VISIBLE_DEVICES=""`` and no
  device: Ray 2.60 no longer empties the variable for a zero-GPU actor
  (``RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO``), so a CPU trial on a GPU node would see every GPU.
- docker: ``gpus: N`` asks the engine for N GPUs (a device request by count), or for the first N
  of the ids the operator lists in the controller's ``CUDA_VISIBLE_DEVICES``.
- local: the operator's own ``CUDA_VISIBLE_DEVICES`` reaches the trial (``trial_env``).

An engine without the NVIDIA Container Toolkit refuses a device request when the container
starts; ``refused`` turns that into one clear error instead of a retried "runtime unavailable".
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from trainchain.errors import ConfigError
from trainchain.runtimes.base import TrialSpec

VISIBLE = "CUDA_VISIBLE_DEVICES"
# What dockerd says when it cannot give a container GPUs: no NVIDIA Container Toolkit
# (no device driver for the request), or the toolkit's hook failing (no driver, bad device id).
NO_TOOLKIT = "could not select device driver"
HOOK_FAILED = "nvidia-container-cli"


def assigned_by_ray() -> tuple[str, ...]:
    """The GPU ids Ray gave the current actor (indices, or UUIDs when the node's
    ``CUDA_VISIBLE_DEVICES`` named them so), in order; () when it gave none."""
    import ray

    ids = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
    return tuple(sorted((str(i) for i in ids), key=lambda i: (not i.isdigit(), i.zfill(8))))


def device_ids(trial: TrialSpec, environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The devices a container of ``trial`` asks the engine for: Ray's ids when its host gave
    some, else the operator's listed ids for ``gpus: N``; [] for none, None for "any N"."""
    if trial.gpu_ids is not None:
        return list(trial.gpu_ids)
    wanted = math.ceil(trial.resources.gpus or 0)
    if not wanted:
        return []
    listed = (os.environ if environ is None else environ).get(VISIBLE)
    if listed is None:
        return None
    ids = [i.strip() for i in listed.split(",") if i.strip()]
    if len(ids) < wanted:
        raise ConfigError(
            f"resources.gpus is {trial.resources.gpus:g} but {VISIBLE}={listed!r} in trainchain's "
            f"environment lists {len(ids)} GPU(s) for trials: lower `gpus:` in the operator's "
            f"settings, or list more GPUs in {VISIBLE} (unset it to let Docker pick any)"
        )
    return ids[:wanted]


def device_requests(trial: TrialSpec, environ: Mapping[str, str] | None = None) -> list[Any]:
    """Docker SDK device requests for ``trial``'s GPUs (none when it has none)."""
    from docker.types import DeviceRequest

    ids = device_ids(trial, environ)
    if ids == []:
        return []
    if ids is None:
        count = math.ceil(trial.resources.gpus or 0)
        return [DeviceRequest(count=count, capabilities=[["gpu"]])]
    return [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]


def refused(exc: BaseException) -> bool:
    """Whether the engine refused a container because it cannot give it GPUs."""
    text = str(getattr(exc, "explanation", None) or exc).lower()
    return NO_TOOLKIT in text or HOOK_FAILED in text


def no_gpu_support(trial: TrialSpec, engine: str, exc: BaseException) -> ConfigError:
    ids = device_ids(trial)
    asked = f"GPU(s) {','.join(ids)}" if ids else f"{trial.resources.gpus or 1:g} GPU(s)"
    reason = str(getattr(exc, "explanation", None) or exc).strip()
    if NO_TOOLKIT in reason.lower():
        fix = (
            "install the NVIDIA Container Toolkit (nvidia-container-toolkit, then `nvidia-ctk "
            "runtime configure --runtime=docker` and restart dockerd) on that machine"
        )
    else:  # the toolkit is there; its hook could not reach the driver or the device
        fix = "check the NVIDIA driver and the GPU ids there (`nvidia-smi -L`)"
    return ConfigError(
        f"trial {trial.trial} of run {trial.run_id} asks for {asked} (resources.gpus: "
        f"{trial.resources.gpus or 1:g}) but the Docker engine at {engine} cannot give a "
        f"container GPUs ({reason}): {fix}, or drop `gpus:` from the operator's `resources:`"
    )
