"""Reward serving on Ray: supernet evaluators hosted in Ray actors, behind the Evaluator interface.

``RemoteEvaluator(spec, actors=N)`` starts N actors (one per GPU when the spec's device is CUDA,
or N on CPU), each building ``spec``'s :class:`~natgym.reward.SupernetEvaluator` once. Its
:meth:`~RemoteEvaluator.accuracy` sends each call, all genotypes batched, to the next actor in
turn, so the rewards are the in-process evaluator's (fixed mode: the same images in every
actor). The object pickles (Ray actor handles do), so envs in many processes or machines --
Ray tasks, ``AsyncVectorEnv`` workers -- can be handed one and share a few supernet replicas::

    remote = RemoteEvaluator(EvaluatorSpec("digits", device="cpu"), actors=2)
    env = gym.make("NAT-Cell-v0", reward=remote)

Needs the ``ray`` extra; call ``ray.init(...)`` first to choose the cluster (otherwise a local Ray
starts). Train the supernet once beforehand (build the spec in the driver) so the actors load it.
``queries`` and ``evaluations`` count this handle's own calls. Each actor asks Ray for
``spec.threads`` CPUs (and one GPU on CUDA); actors that cannot be placed within
``start_timeout`` seconds raise :class:`~natgym.errors.ConfigError`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from natgym.checks import positive_int
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.reward import Evaluator
from natgym.spec import EvaluatorSpec


class _Host:
    """The actor body: one evaluator, built on first use inside the actor process."""

    def __init__(self, spec: EvaluatorSpec) -> None:
        import torch

        torch.set_num_threads(spec.threads)
        self.evaluator = spec.build(progress=False)

    def accuracy(self, genotypes: list[Genotype]) -> tuple[np.ndarray, int]:
        before = self.evaluator.evaluations
        acc = self.evaluator.accuracy(genotypes)
        return acc, self.evaluator.evaluations - before

    def steps(self) -> int:
        return self.evaluator.steps


class RemoteEvaluator(Evaluator):
    """An :class:`~natgym.reward.Evaluator` whose supernets live in ``actors`` Ray actors (see the
    module docstring)."""

    def __init__(self, spec: EvaluatorSpec | Any, actors: int = 1, start_timeout: float = 300.0) -> None:
        super().__init__()
        import ray

        spec = EvaluatorSpec.of(spec)
        positive_int("actors", actors)
        if spec.cotrain and actors > 1:
            raise ConfigError("actors: co-training needs one actor (replicas would train apart)")
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        gpus = 1 if spec.device.startswith("cuda") else 0
        host = ray.remote(num_cpus=spec.threads, num_gpus=gpus)(_Host)
        self.spec = spec
        self.handles = [host.remote(spec) for _ in range(actors)]
        try:
            self.steps = ray.get([h.steps.remote() for h in self.handles], timeout=start_timeout)[0]
        except ray.exceptions.GetTimeoutError:
            raise ConfigError(
                f"actors: {actors} actor(s) of {spec.threads} CPU(s){' and 1 GPU' if gpus else ''} did not "
                f"start within {start_timeout:.0f} s; the Ray cluster lacks the resources"
            ) from None
        self.deterministic = spec.deterministic
        self._turn = itertools.cycle(range(actors))

    def accuracy(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Accuracy of each genotype, computed in one call by the next actor."""
        import ray

        genotypes = list(genotypes)
        acc, computed = ray.get(self.handles[next(self._turn)].accuracy.remote(genotypes))
        self.queries += len(genotypes)
        self.evaluations += computed
        return np.asarray(acc, dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_turn"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._turn = itertools.cycle(range(len(self.handles)))
