"""Checks of numeric options, written once: each raises :class:`~natgym.errors.ConfigError`
naming the field, the value and what is allowed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from natgym.errors import ConfigError


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int if it is an integer >= 1."""
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def nonneg_int(name: str, value: Any) -> int:
    """``value`` as an int if it is an integer >= 0."""
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")
    return int(value)


def finite(
    name: str, value: Any, low: float = -math.inf, high: float = math.inf, *, open_low: bool = False
) -> float:
    """``value`` as a float if it is a finite number in ``[low, high]`` (``(low, high]`` with
    ``open_low``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        bracket = "(" if open_low else "["
        raise ConfigError(f"{name}: expected a number in {bracket}{low:g}, {high:g}], got {value!r}")
    return float(value)
