"""A batched vector version of NAT-Cell-v0: N envs, one evaluator call per step.

``gymnasium.make_vec("NAT-Cell-v0", num_envs=N)`` builds :class:`NATCellVectorEnv` (the id's
``vector_entry_point``). Its ``step`` applies the N actions, then scores all 2N genotypes (N
inputs, N outputs) in a single ``evaluator.accuracy`` call -- one supernet batch instead of N --
and returns the batched results. All sub-envs score with the vector env's one evaluator.

Other ways to vectorise:

* ``gymnasium.make_vec(..., vectorization_mode="sync")`` and SB3's ``DummyVecEnv`` run N ordinary
  envs in this process; they share one evaluator when given one (``reward=evaluator``) or one
  :class:`natgym.spec.EvaluatorPool` (``pool=pool``), and score each env separately.
* ``AsyncVectorEnv`` (``vectorization_mode="async"``) runs each env in its own process, with
  Gymnasium's default start method: it builds one env in this process for its spaces and forks
  the workers, and every forked child starts with one torch thread (a child forked after torch
  ran its thread pool would otherwise hang in it; see :mod:`natgym.device`). Each worker loads
  its own copy of the supernet from the on-disk cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from natgym import graph
from natgym.envs.core import RENDER_MODES, HonestSpec, build_parts, flat_ops, mask_tuple
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.render import ansi_table, draw_transformation
from natgym.reward import Evaluator
from natgym.space import NUM_OPS
from natgym.spec import EvaluatorPool, EvaluatorSpec


class NATCellVectorEnv(HonestSpec, VectorEnv):
    """``num_envs`` NAT-Cell-v0 environments stepped together with one batched reward call.

    Built from the same :class:`~natgym.envs.core.Transform` and evaluator as
    :class:`~natgym.envs.cell.NATCellEnv`, with one episode state and random generator per
    sub-env. Observations, actions, rewards and infos are batched as by ``SyncVectorEnv`` and
    the results equal N separate envs' (same seeds, same actions, deterministic evaluator).
    ``autoreset_mode`` is ``NEXT_STEP`` (Gymnasium's default: the step after an episode's end
    resets that env and pays 0) or ``SAME_STEP`` (the step that ends an episode returns the next
    episode's first observation, the last one in ``info["final_obs"]`` with
    ``info["final_info"]``) -- the natural mode for one-step episodes: one episode per call.
    Other keyword arguments are those of :class:`~natgym.envs.cell.NATCellEnv`.
    """

    metadata = {
        "render_modes": RENDER_MODES,
        "render_fps": 1,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        steps: int = 4,
        rule: str = "natpp",
        arch: Any = None,
        invalid_action: str = "keep",
        invalid_penalty: float = 0.01,
        cost_weight: float = 0.0,
        exclude: Iterable[Any] = (),
        reward: Evaluator | EvaluatorSpec | Mapping[str, Any] | str | os.PathLike | None = None,
        pool: EvaluatorPool | None = None,
        render_mode: str | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ConfigError(f"num_envs: expected a positive integer, got {num_envs!r}")
        modes = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            mode = None
        if mode not in modes:
            raise ConfigError(
                f"autoreset_mode: unsupported {autoreset_mode!r}; allowed: {', '.join(m.name for m in modes)}"
            )
        self.transform, self.evaluator, self.render_mode = build_parts(
            steps,
            rule,
            arch,
            invalid_action,
            invalid_penalty,
            cost_weight,
            exclude,
            reward,
            pool,
            render_mode,
        )
        self.num_envs = int(num_envs)
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        n_edges = self.transform.n_edges
        self.single_observation_space = spaces.Dict(
            {
                **graph.observation_space(self.transform.steps).spaces,
                "action_mask": spaces.MultiBinary((n_edges, NUM_OPS)),
            }
        )
        self.single_action_space = spaces.MultiDiscrete(np.full(n_edges, NUM_OPS))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self.genotypes: list[Genotype | None] = [None] * self.num_envs
        """Each sub-env's current genotype (the input, or the result once its episode ended)."""
        self.befores: list[Genotype | None] = [None] * self.num_envs
        """Each sub-env's input once its episode ended (None while it runs)."""
        self.last_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        self._autoreset = np.zeros(self.num_envs, bool)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every sub-env (seeds ``seed + i`` for an int seed, or one per env from a list).
        ``options`` go to each sub-env (``{"genotype": ...}``)."""
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ConfigError(f"seed: expected {self.num_envs} seeds (one per env), got {len(seeds)}")
        obs, infos = [], {}
        for i, s in enumerate(seeds):
            o, info = self._reset_one(i, s, options)
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return self._batch(obs), infos

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; all rewards of this call come from one evaluator call."""
        if any(g is None for g in self.genotypes):
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = list(iterate(self.action_space, np.asarray(actions)))
        if len(actions) != self.num_envs:
            raise ConfigError(f"actions: expected a batch of {self.num_envs} actions, got {len(actions)}")
        stepping = [i for i in range(self.num_envs) if not self._autoreset[i]]
        for i in stepping:
            if self.befores[i] is not None:
                raise gym.error.ResetNeeded(f"step: the episode of env {i} is over; call reset()")
        pending = {
            i: (self.genotypes[i], *self.transform.apply(self.genotypes[i], actions[i])) for i in stepping
        }
        genotypes = [p[0] for p in pending.values()] + [p[1] for p in pending.values()]
        acc = self.evaluator.accuracy(genotypes) if genotypes else np.zeros(0)
        n = len(pending)
        obs: list[dict[str, np.ndarray]] = [{}] * self.num_envs
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, bool)
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):
            if i not in pending:
                obs[i], info = self._reset_one(i, None, None)
            else:
                j = stepping.index(i)
                before, after, invalid = pending[i]
                rewards[i], info = self.transform.outcome(
                    before, after, float(acc[j]), float(acc[n + j]), invalid
                )
                terminated[i] = True
                self.befores[i], self.genotypes[i], self.last_infos[i] = before, after, info
                obs[i] = self.transform.observe(after)
                info["action_mask"] = mask_tuple(obs[i]["action_mask"])
                if self.autoreset_mode == AutoresetMode.SAME_STEP:
                    infos = self._add_info(infos, {"final_obs": obs[i], "final_info": info}, i)
                    obs[i], info = self._reset_one(i, None, None)
            infos = self._add_info(infos, info, i)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._autoreset = terminated.copy()
        return self._batch(obs), rewards, terminated, np.zeros(self.num_envs, bool), infos

    def action_masks(self) -> np.ndarray:
        """``(num_envs, 2E * 13)`` bool masks, one flat row per sub-env."""
        if any(g is None for g in self.genotypes):
            raise gym.error.ResetNeeded("call reset() before action_masks()")
        return np.stack([self.transform.mask(flat_ops(g)).reshape(-1) for g in self.genotypes])

    def render(self) -> tuple[Any, ...] | None:
        """Each sub-env's rendering, as :meth:`NATCellEnv.render <natgym.envs.cell.NATCellEnv.render>`."""
        if self.render_mode is None:
            return None
        out = []
        for genotype, before, info in zip(self.genotypes, self.befores, self.last_infos):
            if genotype is None:
                out.append(None)
            elif self.render_mode == "ansi":
                out.append(ansi_table(before or genotype, genotype, info))
            else:
                out.append(draw_transformation(before or genotype, genotype))
        return tuple(out)

    def _reset_one(
        self, i: int, seed: int | None, options: dict[str, Any] | None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is not None or self._rngs[i] is None:
            self._rngs[i], _ = seeding.np_random(seed)
        genotype = self.transform.start(options, self._rngs[i])
        self.genotypes[i], self.befores[i], self.last_infos[i] = genotype, None, {}
        obs = self.transform.observe(genotype)
        return obs, {"action_mask": mask_tuple(obs["action_mask"]), "genotype": genotype.to_darts()}

    def _batch(self, obs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        out = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, obs, out)
