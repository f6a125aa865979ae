"""A batched vector version of NAT-Cell-v0: N envs, one evaluator call per step.

``gymnasium.make_vec("NAT-Cell-v0", num_envs=N)`` builds :class:`NATCellVectorEnv` (the id's
``vector_entry_point``). Its ``step`` applies the N actions, then scores all 2N genotypes (N
inputs, N outputs) in a single ``evaluator.accuracy`` call -- one supernet batch instead of N --
and returns the batched results. All sub-envs share the process's evaluator.

Other ways to vectorise:

* ``gymnasium.make_vec(..., vectorization_mode="sync")`` and SB3's ``DummyVecEnv`` run N ordinary
  envs in this process; they share one evaluator through the process cache
  (:func:`natgym.envs.core.shared_evaluator`) but score each env separately.
* ``AsyncVectorEnv`` runs each env in its own process. Use the ``spawn`` start method (torch and
  ``fork`` do not mix)::

      envs = gymnasium.make_vec("NAT-Cell-v0", num_envs=4, vectorization_mode="async",
                                vector_kwargs={"context": "spawn"})

  Each worker imports natgym and loads the supernet from the on-disk cache, so train it once
  first (make one env in the main process, or pass ``supernet=<checkpoint path>``); each worker
  holds its own copy in memory. Scripts that create it need the ``if __name__ == "__main__":``
  guard that ``spawn`` requires.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from natgym.envs.cell import NATCellEnv
from natgym.envs.core import honest_spec
from natgym.errors import ConfigError


class NATCellVectorEnv(VectorEnv):
    """``num_envs`` NAT-Cell-v0 environments stepped together with one batched reward call.

    Observations, actions, rewards and infos are batched as by ``SyncVectorEnv`` and the
    results equal N separate envs' (same seeds, same actions, deterministic evaluator).
    ``autoreset_mode`` is ``NEXT_STEP`` (Gymnasium's default: the step after an episode's end
    resets that env and pays 0) or ``SAME_STEP`` (the step that ends an episode returns the next
    episode's first observation, the last one in ``info["final_obs"]`` with
    ``info["final_info"]``) -- the natural mode for one-step episodes: one episode per call.
    Other keyword arguments are those of :class:`~natgym.envs.cell.NATCellEnv`.
    """

    metadata = {
        "render_modes": NATCellEnv.metadata["render_modes"],
        "render_fps": 1,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    _spec = None

    def __init__(
        self, num_envs: int = 1, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, **kwargs: Any
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
        self.envs = [NATCellEnv(**kwargs)]
        kwargs["supernet"] = self.envs[0].evaluator
        self.envs += [NATCellEnv(**kwargs) for _ in range(int(num_envs) - 1)]
        self.evaluator = self.envs[0].evaluator
        self.num_envs = int(num_envs)
        self.render_mode = self.envs[0].render_mode
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._autoreset = np.zeros(self.num_envs, bool)

    @property
    def spec(self):
        """The registration spec; ``nondeterministic`` is forced True for a nondeterministic evaluator."""
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = honest_spec(value, self.evaluator)

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
        for i, (env, s) in enumerate(zip(self.envs, seeds)):
            o, info = env.reset(seed=s, options=options)
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return self._batch(obs), infos

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; all rewards of this call come from one evaluator call."""
        actions = list(iterate(self.action_space, np.asarray(actions)))
        if len(actions) != self.num_envs:
            raise ConfigError(f"actions: expected a batch of {self.num_envs} actions, got {len(actions)}")
        stepping = [i for i in range(self.num_envs) if not self._autoreset[i]]
        pending = {i: self.envs[i]._transform(actions[i]) for i in stepping}
        genotypes = [p[0] for p in pending.values()] + [p[1] for p in pending.values()]
        acc = self.evaluator.accuracy(genotypes) if genotypes else np.zeros(0)
        n = len(pending)
        obs: list[dict[str, np.ndarray]] = [{}] * self.num_envs
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, bool)
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):
            if i not in pending:
                obs[i], info = self.envs[i].reset()
            else:
                j = stepping.index(i)
                before, after, invalid = pending[i]
                obs[i], rewards[i], terminated[i], _, info = self.envs[i]._finish(
                    before, after, float(acc[j]), float(acc[n + j]), invalid
                )
                if self.autoreset_mode == AutoresetMode.SAME_STEP:
                    infos = self._add_info(infos, {"final_obs": obs[i], "final_info": info}, i)
                    obs[i], info = self.envs[i].reset()
            infos = self._add_info(infos, info, i)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._autoreset = terminated.copy()
        return self._batch(obs), rewards, terminated, np.zeros(self.num_envs, bool), infos

    def action_masks(self) -> np.ndarray:
        """``(num_envs, 2E * 13)`` bool masks, one flat row per sub-env."""
        return np.stack([env.action_masks() for env in self.envs])

    def render(self) -> tuple[Any, ...] | None:
        """Each sub-env's ``render()``."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def _batch(self, obs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        out = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, obs, out)
