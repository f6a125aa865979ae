"""Multi-process training with ``torchrun`` (torch.distributed): the rank, the world, the device.

``torchrun --nproc-per-node N ...`` starts N processes with ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE`` set; :func:`setup` joins them into one process group (NCCL on CUDA, gloo on CPU)
and gives each rank its device (``cuda:LOCAL_RANK`` on CUDA). Without torchrun (``WORLD_SIZE``
unset or 1) nothing happens: one process, rank 0 of 1.
"""

from __future__ import annotations

import atexit
import os

import torch

from natgym.device import resolve_device


def setup(device: str | torch.device = "auto") -> tuple[int, int, torch.device]:
    """``(rank, world_size, device)`` of this process, joining the process group on first use."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = resolve_device(device)
    if world <= 1:
        return 0, 1, dev
    import torch.distributed as dist

    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        atexit.register(_leave)
    return dist.get_rank(), dist.get_world_size(), dev


def _leave() -> None:
    """At exit, leave the process group cleanly (not a collective: a rank that exits on an error
    must not wait for the others)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def mean(values: list[float], device: torch.device) -> list[float]:
    """The mean of ``values`` over all ranks (the values themselves in one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
