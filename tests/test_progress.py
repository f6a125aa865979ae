"""Progress bars: tqdm on a terminal, a few plain lines in a log."""

from __future__ import annotations

import io
import sys

from natgym import progress


def test_a_log_gets_a_few_plain_lines_not_thousands(monkeypatch):
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    bar = progress.progress_bar(range(5000), desc="work")
    for i in bar:
        bar.set_postfix(loss=f"{i:.3f}")  # a postfix per step does not force a line per step
    text = log.getvalue()
    assert "\r" not in text and 1 <= text.count("\n") <= 3
    assert text.splitlines()[-1].startswith("work: 100%")


def test_a_terminal_gets_the_usual_bar(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    for _ in progress.progress_bar(range(10), desc="work", file=term):
        pass
    assert "\r" in term.getvalue()
