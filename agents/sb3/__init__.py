"""Stable-Baselines3 agents for natgym: a graph features extractor, an action wrapper for
unmasked algorithms, hyperparameters (``hyperparams.yaml``) and ready-made training.

Public names: :class:`GraphFeaturesExtractor`, :class:`AllowedOpsWrapper`,
:func:`map_to_allowed`, :data:`ALGOS`, :func:`train`, :func:`make_env`, :func:`build_model`,
:func:`load_hyperparams`, :func:`greedy_episode`, :class:`SB3Result`.
"""

from agents.sb3.extractor import GraphFeaturesExtractor
from agents.sb3.train import ALGOS, SB3Result, build_model, greedy_episode, load_hyperparams, make_env, train
from agents.sb3.wrappers import AllowedOpsWrapper, map_to_allowed

__all__ = [
    "ALGOS",
    "AllowedOpsWrapper",
    "GraphFeaturesExtractor",
    "SB3Result",
    "build_model",
    "greedy_episode",
    "load_hyperparams",
    "make_env",
    "map_to_allowed",
    "train",
]
