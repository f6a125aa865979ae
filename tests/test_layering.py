"""The layering the README promises: imports flow agents -> natgym, never back, and the library
needs none of the agents' own dependencies (they live in the ``agents`` extra)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import natgym

AGENT_ONLY = (
    "agents",
    "yaml",
    "tensorboard",
    "stable_baselines3",
    "sb3_contrib",
    "rliable",
    "botorch",
    "gpytorch",
)
"""Top-level modules natgym must not import: the agents package and its extra's dependencies."""
ROOT = Path(natgym.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_natgym_source_imports_agent_code():
    offenders = {
        f"{path.relative_to(ROOT.parent)}: {name}"
        for path in ROOT.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in AGENT_ONLY or name.startswith("torch.utils.tensorboard")
    }
    assert not offenders


def test_importing_every_natgym_module_loads_no_agent_module():
    code = (
        "import importlib, pkgutil, sys, natgym\n"
        "for m in pkgutil.walk_packages(natgym.__path__, 'natgym.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {AGENT_ONLY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
