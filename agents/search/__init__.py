"""Search baselines over transformations, through the env API and its evaluator.

Public names: :func:`uniform_action` and :class:`RandomPolicy` (the uniform random
valid-transition policy), :func:`random_search` (best of K), :func:`regularized_evolution`,
:func:`mutate`, :func:`bayesian_optimization` (BoTorch GP on a graph-kernel embedding),
:class:`TransformProblem`, :class:`SearchResult`; for ``NAT-Depth-v0`` the stage-importance
baseline :func:`deepen_by_importance`, :func:`random_depths`, :func:`evolve_depths` and
:func:`bo_depths` (:class:`DeepenResult`).
"""

from agents.search.bo import bayesian_optimization
from agents.search.deepen import DeepenResult, bo_depths, deepen_by_importance, evolve_depths, random_depths
from agents.search.evolution import mutate, regularized_evolution
from agents.search.problem import SearchResult, TransformProblem
from agents.search.random_search import RandomPolicy, random_search, uniform_action

__all__ = [
    "bayesian_optimization",
    "bo_depths",
    "DeepenResult",
    "deepen_by_importance",
    "evolve_depths",
    "RandomPolicy",
    "SearchResult",
    "TransformProblem",
    "mutate",
    "random_depths",
    "random_search",
    "regularized_evolution",
    "uniform_action",
]
