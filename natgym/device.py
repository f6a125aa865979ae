"""The one place a ``device`` argument is turned into a ``torch.device``, and torch's CPU
threads in forked processes.

A process forked after its parent ran torch's CPU thread pool (GNU OpenMP) hangs forever at its
first multi-threaded operation: the pool's threads are not copied by ``fork``. Gymnasium's
``AsyncVectorEnv`` does exactly that -- it builds one env in the parent (for its spaces), then
forks its workers. So a child forked from a process that imported this module starts with one
torch thread, as PyTorch's own DataLoader workers do; natgym's evaluators use one thread per
call by default anyway (``EvaluatorSpec.threads``).
"""

from __future__ import annotations

import os

import torch

from natgym.errors import ConfigError

ALLOWED = "auto, cpu, cuda, cuda:N"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> the first CUDA device when there is one, else the CPU; ``"cpu"``,
    ``"cuda"``, ``"cuda:N"`` as given once checked to exist here. Anything else, or a CUDA device
    this machine lacks, raises :class:`~natgym.errors.ConfigError` naming ``device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device: unknown device {device!r}; allowed: {ALLOWED}") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ConfigError(f"device: unsupported device type {dev.type!r}; allowed: {ALLOWED}")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ConfigError(f"device: {device!r} asked for CUDA but this machine has no CUDA device; use cpu")
    index = 0 if dev.index is None else dev.index
    if index >= count:
        raise ConfigError(
            f"device: {device!r} does not exist; this machine has {count} CUDA device(s): "
            + ", ".join(f"cuda:{i}" for i in range(count))
        )
    return torch.device("cuda", index)


def _one_thread_in_child() -> None:
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_one_thread_in_child)
