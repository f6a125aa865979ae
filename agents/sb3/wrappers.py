"""Action wrapper that lets unmasked algorithms (PPO, A2C, DQN) act on natgym envs without ever
choosing an invalid op.

:class:`AllowedOpsWrapper` keeps the action space (``MultiDiscrete([13] * 2E)`` for
``NAT-Cell-v0``, ``Discrete(13)`` for ``NAT-CellSeq-v0``, ops then source pairs for
``NAT-Path-v0``) and reinterprets it: on an action dimension whose allowed choices (an edge's
targets in :data:`natgym.OPS` order, or a node's source pairs) are ``a_0 < a_1 < ... < a_{n-1}``,
choice ``k`` means ``a_{k mod n}``. Every choice is therefore valid; an edge with ``n`` allowed ops maps
``ceil(13 / n)`` or ``floor(13 / n)`` choices onto each of them, so a uniform policy over the 13
choices is close to (not exactly) uniform over the allowed ops. The mask comes from the wrapped
env's ``action_masks()``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from natgym.space import NUM_OPS


def map_to_allowed(choice: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The allowed choice of every action dimension for ``choice`` (``(D,)``) under ``masks``
    (``(D, W)``: 13 ops per edge, or a padded row per dimension of a wider action)."""
    choice = np.asarray(choice, dtype=np.int64).reshape(-1)
    masks = np.asarray(masks, dtype=bool).reshape(choice.size, -1)
    n = masks.sum(-1)
    rank = choice % n  # the rank-th allowed op of each edge
    cumulative = np.cumsum(masks, axis=-1)  # position of each allowed op among the allowed
    return (cumulative > rank[:, None]).argmax(-1).astype(np.int64)


class AllowedOpsWrapper(gym.ActionWrapper):
    """Maps each edge's choice onto that edge's allowed ops (see the module docstring)."""

    def action(self, action: Any) -> Any:
        flat = np.asarray(self.env.get_wrapper_attr("action_masks")(), dtype=bool)
        space = self.action_space
        sizes = space.nvec if isinstance(space, gym.spaces.MultiDiscrete) else np.array([NUM_OPS])
        rows = np.split(flat, np.cumsum(sizes)[:-1])
        masks = np.zeros((len(rows), int(sizes.max())), dtype=bool)
        for d, row in enumerate(rows):
            masks[d, : len(row)] = row
        ops = map_to_allowed(action, masks)
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(ops[0])
        return ops
