"""Sphinx configuration of natgym's documentation site (``./dev docs`` builds it into
``docs/_build/html`` with warnings as errors)."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "natgym"
author = "the natgym developers"
copyright = "2026, the natgym developers"
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "cli_overview.md", "envs/generated"]
html_theme = "furo"
html_title = "natgym"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

API_MODULES = [
    "natgym.space",
    "natgym.genotype",
    "natgym.transitions",
    "natgym.cost",
    "natgym.zoo",
    "natgym.graph",
    "natgym.data",
    "natgym.data.fashion",
    "natgym.spec",
    "natgym.reward",
    "natgym.fidelity",
    "natgym.final",
    "natgym.network",
    "natgym.supernet.train",
    "natgym.envs",
    "natgym.wiring",
    "agents.nat.trainer",
    "agents.benchmark",
    "agents.stats",
]
"""Modules of the API reference (docs/api.md); every public name in them must have a docstring."""


def _undocumented() -> list[str]:
    """Public functions and classes defined in :data:`API_MODULES` without a docstring."""
    missing = []
    for name in API_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or getattr(value, "__module__", None) != name:
                continue
            if (inspect.isfunction(value) or inspect.isclass(value)) and not inspect.getdoc(value):
                missing.append(f"{name}.{attr}")
    return missing


def _check_documented(app) -> None:
    from sphinx.util import logging

    for name in _undocumented():
        logging.getLogger(__name__).warning(f"public name without a docstring: {name}")


ENV_CLASSES = {
    "NATCellEnv": "natgym.envs.cell",
    "NATCellSeqEnv": "natgym.envs.seq",
    "NATCellVectorEnv": "natgym.envs.vector",
    "NATPathEnv": "natgym.envs.path",
    "NATDepthEnv": "natgym.envs.depth",
}
"""The environments whose docstrings (Markdown, in the Gymnasium layout) are the env pages."""


def _env_pages(app) -> None:
    """Write each env class's docstring as MyST Markdown to ``docs/envs/generated/<class>.md``
    (included by the env pages): reST roles become MyST roles, the rest is Markdown already."""
    import re

    out = Path(app.srcdir) / "envs" / "generated"
    out.mkdir(exist_ok=True)
    for name, module in ENV_CLASSES.items():
        text = inspect.getdoc(getattr(importlib.import_module(module), name))
        text = re.sub(r":(\w+):`", r"{\1}`", text)
        path = out / f"{name}.md"
        if not path.is_file() or path.read_text() != text:
            path.write_text(text + "\n")


def setup(app) -> None:
    app.connect("builder-inited", _check_documented)
    app.connect("builder-inited", _env_pages)
