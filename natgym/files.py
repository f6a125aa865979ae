"""Reading checkpoint files safely.

Every ``.pt`` file natgym reads back (supernets, their ``.partial`` resume files, stand-alone
training and agent checkpoints) goes through :func:`load_checkpoint`: it unpickles with
``torch.load(weights_only=True)``, which accepts only tensors, dicts, lists, numbers and strings
-- a crafted file whose pickle would call a function is refused and nothing in it runs -- and it
turns every way a file can be unreadable (truncated, empty, not a checkpoint, hostile) into one
:class:`~natgym.errors.ConfigError` that names the file and what to do.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any

import torch

from natgym.errors import ConfigError


def load_checkpoint(
    path: str | os.PathLike, field: str, hint: str, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The dict stored in checkpoint ``path``; ``field`` names the argument or file kind in the
    error message and ``hint`` says how to recover (e.g. delete the file to start over)."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{field}: cannot load {os.fspath(path)} ({reason[:200]}); {hint}") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{field}: {os.fspath(path)} is not a natgym checkpoint; {hint}")
    return state
