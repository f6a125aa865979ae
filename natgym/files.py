"""Reading and writing files safely.

Every ``.pt`` file natgym reads back (supernets, their ``.partial`` resume files, stand-alone
training and agent checkpoints) goes through :func:`load_checkpoint`: it unpickles with
``torch.load(weights_only=True)``, which accepts only tensors, dicts, lists, numbers and strings
-- a crafted file whose pickle would call a function is refused and nothing in it runs -- and it
turns every way a file can be unreadable (truncated, empty, not a checkpoint, hostile) into one
:class:`~natgym.errors.ConfigError` that names the file and what to do.

Every file natgym writes goes through :func:`atomic_write` (or :func:`write_text` /
:func:`write_json` on top of it): the content is written to a uniquely named temporary file in
the target's folder and moved over the target with ``os.replace``, so a reader never sees half a
file, two writers never share a temporary name, and the temporary file is removed on every
failure path. JSON is strict (``allow_nan=False``): a missing number is written as ``null``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from natgym.errors import ConfigError


def load_checkpoint(
    path: str | os.PathLike, field: str, hint: str, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The dict stored in checkpoint ``path``; ``field`` names the argument or file kind in the
    error message and ``hint`` says how to recover (e.g. delete the file to start over)."""
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{field}: cannot load {os.fspath(path)} ({reason[:200]}); {hint}") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{field}: {os.fspath(path)} is not a natgym checkpoint; {hint}")
    return state


def read_json(path: str | os.PathLike, field: str, hint: str) -> Any:
    """The JSON value in ``path`` (a file natgym wrote earlier); an unreadable or malformed file
    is a :class:`~natgym.errors.ConfigError` naming it, ``field`` and ``hint`` (how to recover)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(f"{field}: cannot read {os.fspath(path)} ({reason}); {hint}") from None


def check_writable(path: str | os.PathLike, field: str, need_bytes: int = 0) -> Path:
    """Check, before any work, that file ``path`` can be written: not a directory, its folder
    creatable and writable, and (when ``need_bytes`` is known) that much free space there.
    Raises :class:`~natgym.errors.ConfigError` naming ``field``; returns ``path`` as a Path."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{field}: {path} is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".natgym-write-test.", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"{field}: cannot write in {path.parent} ({exc.strerror or exc})") from None
    if need_bytes:
        free = shutil.disk_usage(path.parent).free
        if free < need_bytes:
            raise ConfigError(
                f"{field}: {free / 1e6:.1f} MB free in {path.parent}, about {need_bytes / 1e6:.1f} MB needed"
            )
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Create ``path`` (and its folder) by calling ``write(tmp)`` on a fresh temporary path
    beside it, then moving that over ``path``; the temporary file never outlives a failure.
    The file gets the usual permissions (``0o666`` less the umask)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"out: {path} is a directory; give a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 ``text``."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def strict(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (JSON ``null``)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """:func:`atomic_write` of ``obj`` as strict JSON (NaN and infinities become ``null``)."""
    return write_text(path, json.dumps(strict(obj), indent=indent, allow_nan=False) + "\n")


def save_torch(path: str | os.PathLike, obj: Any) -> Path:
    """:func:`atomic_write` of ``torch.save(obj)``."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
