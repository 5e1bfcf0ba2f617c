"""The environment a trial gets, on every runtime: an allow-list, never the server's own.

A trial runs pushed code, and the server's environment holds the API token, webhook secrets,
the SMTP URL and the database URL. So a trial starts from nothing: the host variables listed in
``HOST_VARS`` (local runtime only: a container has its own), plus what trainchain sets, and the
final environment keeps only allow-listed names. Anyone adding a variable for trials adds its
name to ``TRIAL_VARS`` here, or to ``agent/contract.py`` when the agent reads it; the operator
may pass more host variables by name with ``TRAINCHAIN_TRIAL_ENV=NAME1,NAME2``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from trainchain.agent import contract

OPERATOR_LIST = "TRAINCHAIN_TRIAL_ENV"

# Host variables a local trial may inherit: where programs and libraries are, locale, time
# zone, temporary files, GPUs and CA certificates. Nothing that can hold a secret.
HOST_VARS = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "LD_LIBRARY_PATH",
        "CUDA_VISIBLE_DEVICES",
        "CUDA_HOME",
        "NVIDIA_VISIBLE_DEVICES",
        "NVIDIA_DRIVER_CAPABILITIES",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "XDG_CACHE_HOME",
        "MPLBACKEND",
        "MPLCONFIGDIR",
        "KERAS_BACKEND",
        "TF_CPP_MIN_LOG_LEVEL",
        "TF_FORCE_GPU_ALLOW_GROWTH",
        "HF_HOME",
        "HF_HUB_OFFLINE",
        # set on machines whose processor an older OpenBLAS misdetects (wrong results, crashes)
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    }
)
HOST_PREFIXES = ("LC_",)

# Variables trainchain itself sets for the training process (agent, frameworks, caches).
TRIAL_VARS = frozenset(
    {
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "OMP_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
    }
    | contract.VARIABLES  # what the agent reads (trainchain.agent.contract)
)


def operator_names(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Extra host variables the operator passes to trials (``TRAINCHAIN_TRIAL_ENV``)."""
    listed = (environ if environ is not None else os.environ).get(OPERATOR_LIST, "")
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


def is_host_var(name: str, extra: frozenset[str] = frozenset()) -> bool:
    return name in HOST_VARS or name.startswith(HOST_PREFIXES) or name in extra


def host_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of this process's environment (for a local trial)."""
    source = os.environ if environ is None else environ
    extra = operator_names(source)
    return {k: v for k, v in source.items() if is_host_var(k, extra)}


def restrict(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any name the allow-list does not know."""
    extra = operator_names()
    return {k: v for k, v in environ.items() if k in TRIAL_VARS or is_host_var(k, extra)}
