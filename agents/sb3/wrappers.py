"""Action wrapper that lets unmasked algorithms (PPO, A2C, DQN) act on natgym envs without ever
choosing an invalid op.

:class:`AllowedOpsWrapper` keeps the action space (``MultiDiscrete([13] * 2E)`` for
``NAT-Cell-v0``, ``Discrete(13)`` for ``NAT-CellSeq-v0``) and reinterprets it: on an edge whose
allowed targets (in :data:`natgym.OPS` order) are ``a_0 < a_1 < ... < a_{n-1}``, choice ``k``
means op ``a_{k mod n}``. Every choice is therefore valid; an edge with ``n`` allowed ops maps
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
    """Op index per edge for ``choice`` (``(E,)``, values 0..12) under ``masks`` (``(E, 13)``)."""
    choice = np.asarray(choice, dtype=np.int64).reshape(-1)
    masks = np.asarray(masks, dtype=bool).reshape(choice.size, NUM_OPS)
    n = masks.sum(-1)
    rank = choice % n  # the rank-th allowed op of each edge
    cumulative = np.cumsum(masks, axis=-1)  # position of each allowed op among the allowed
    return (cumulative > rank[:, None]).argmax(-1).astype(np.int64)


class AllowedOpsWrapper(gym.ActionWrapper):
    """Maps each edge's choice onto that edge's allowed ops (see the module docstring)."""

    def action(self, action: Any) -> Any:
        masks = np.asarray(self.env.get_wrapper_attr("action_masks")(), dtype=bool).reshape(-1, NUM_OPS)
        ops = map_to_allowed(action, masks)
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(ops[0])
        return ops
