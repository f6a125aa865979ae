"""Progress bars that suit both a terminal and a log file.

:func:`progress_bar` is ``tqdm`` on a terminal. When stderr is not a terminal (a log file, CI, a
pipe) the same bar is redrawn at most every ``LOG_INTERVAL`` seconds and each redraw becomes one
plain line, so a long run leaves a few readable lines instead of thousands of carriage returns.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from tqdm.auto import tqdm

LOG_INTERVAL = 30.0
"""Seconds between plain progress lines when stderr is not a terminal."""


class _Lines(io.TextIOBase):
    """A text stream that turns each tqdm redraw into one newline-terminated line."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


class _LogBar(tqdm):
    """A bar for a log: postfix and description changes wait for the next timed redraw."""

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        super().set_description(desc, refresh=False)


def progress_bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on a terminal; elsewhere plain lines every ``LOG_INTERVAL``
    seconds (see the module docstring)."""
    stream = sys.stderr
    if hasattr(stream, "isatty") and stream.isatty():
        return tqdm(iterable, **kwargs)
    kwargs = {"mininterval": LOG_INTERVAL, "maxinterval": LOG_INTERVAL, "ascii": True, **kwargs}
    kwargs["file"] = _Lines(stream)
    return _LogBar(iterable, **kwargs)
