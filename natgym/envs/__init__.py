"""The Gymnasium environments and their registration.

Ids (registered by ``import natgym``; ``gymnasium.make("natgym:NAT-Cell-v0")`` imports natgym
itself):

* ``NAT-Cell-v0`` -- :class:`~natgym.envs.cell.NATCellEnv`, one step per episode (the paper's
  MDP); ``gymnasium.make_vec`` builds the batched :class:`~natgym.envs.vector.NATCellVectorEnv`.
* ``NAT-CellSeq-v0`` -- :class:`~natgym.envs.seq.NATCellSeqEnv`, one edge per step.
* ``NAT-Path-v0`` -- :class:`~natgym.envs.path.NATPathEnv`, the one-step episode whose action
  also rewires every node (path-level moves, :mod:`natgym.wiring`); ``gymnasium.make_vec``
  vectorises it with Gymnasium's sync or async vector env.
* ``NAT-Depth-v0`` -- :class:`~natgym.envs.depth.NATDepthEnv`, stage-wise depth search: each
  step deepens one stage by a cell or stops, scored by an elastic-depth supernet.

All are registered ``nondeterministic=False``: with the default ``mode="fixed"`` evaluator and a
seed, episodes repeat exactly. With ``reward={"mode": "minibatch"}`` or ``{"cotrain": True}`` the
env marks its own ``spec.nondeterministic`` True. Registration imports neither torch nor the env
modules; the classes below are loaded on first access.
"""

from __future__ import annotations

from typing import Any

import gymnasium

ENV_IDS: tuple[str, ...] = ("NAT-Cell-v0", "NAT-CellSeq-v0", "NAT-Path-v0", "NAT-Depth-v0")
"""The registered environment ids."""

_LAZY = {
    "NATCellEnv": "natgym.envs.cell",
    "NATCellSeqEnv": "natgym.envs.seq",
    "NATCellVectorEnv": "natgym.envs.vector",
    "NATPathEnv": "natgym.envs.path",
    "NATDepthEnv": "natgym.envs.depth",
}
__all__ = ["ENV_IDS", "register_envs", *_LAZY]


def register_envs() -> None:
    """Register the natgym ids with Gymnasium (idempotent)."""
    if "NAT-Cell-v0" not in gymnasium.registry:
        gymnasium.register(
            id="NAT-Cell-v0",
            entry_point="natgym.envs.cell:NATCellEnv",
            vector_entry_point="natgym.envs.vector:NATCellVectorEnv",
            nondeterministic=False,
        )
    if "NAT-CellSeq-v0" not in gymnasium.registry:
        gymnasium.register(
            id="NAT-CellSeq-v0", entry_point="natgym.envs.seq:NATCellSeqEnv", nondeterministic=False
        )
    if "NAT-Path-v0" not in gymnasium.registry:
        gymnasium.register(
            id="NAT-Path-v0", entry_point="natgym.envs.path:NATPathEnv", nondeterministic=False
        )
    if "NAT-Depth-v0" not in gymnasium.registry:
        gymnasium.register(
            id="NAT-Depth-v0", entry_point="natgym.envs.depth:NATDepthEnv", nondeterministic=False
        )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'natgym.envs' has no attribute {name!r}")
