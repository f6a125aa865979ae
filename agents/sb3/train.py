"""Ready-made Stable-Baselines3 training on natgym envs: MaskablePPO, PPO, A2C and DQN.

* ``maskable_ppo`` (sb3-contrib) on ``NAT-Cell-v0``: masks from the env's ``action_masks()``;
  evaluation with ``MaskableEvalCallback``.
* ``ppo`` and ``a2c`` on ``NAT-Cell-v0`` and ``dqn`` on ``NAT-CellSeq-v0``: unmasked, through
  :class:`~agents.sb3.wrappers.AllowedOpsWrapper` (choice ``k`` on an edge = the edge's
  ``k mod n``-th allowed op), so no action is invalid; evaluation with ``EvalCallback``.

Hyperparameters come from the package file ``agents/sb3/hyperparams.yaml`` (keyed by algorithm,
rl-zoo3 style); the policy is ``MultiInputPolicy`` with
:class:`~agents.sb3.extractor.GraphFeaturesExtractor`. Every env is wrapped (inside out) in
:class:`~agents.ledger.LedgerWrapper` (queries spent, finished episodes, ``madds_ratio`` and
``params_ratio`` in ``info``), the action wrapper where needed, and ``Monitor`` recording
:data:`INFO_KEYWORDS`.

With ``out_dir``, :func:`train` writes ``monitor.csv``, TensorBoard logs in ``tb/``, evaluation
results, and ``model.zip`` (plus ``replay_buffer.pkl`` for DQN) atomically every ``save_freq``
steps; a rerun with the same ``out_dir`` resumes from them. With ``budget``, training stops once
that many supernet queries have been spent (evaluation episodes count too: they use the same
evaluator).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.monitor import Monitor

import natgym  # noqa: F401  (registers the env ids)
from agents.ledger import Ledger, LedgerWrapper
from agents.sb3.extractor import GraphFeaturesExtractor
from agents.sb3.wrappers import AllowedOpsWrapper
from natgym.errors import ConfigError
from natgym.files import atomic_write, read_json, write_json
from natgym.progress import progress_bar

ALGOS: tuple[str, ...] = ("maskable_ppo", "ppo", "a2c", "dqn")
"""The algorithms :func:`train` knows."""
INFO_KEYWORDS: tuple[str, ...] = ("acc_before", "acc_after", "madds_ratio", "params_ratio", "invalid_edges")
"""End-of-episode ``info`` keys that ``Monitor`` writes to ``monitor.csv``."""
QUERIES_PER_EPISODE = 2
"""Supernet queries of one natgym episode (the input and the transformed pair, in one call)."""


def _check_algo(algo: str) -> str:
    if algo not in ALGOS:
        raise ConfigError(f"algo: unknown SB3 algorithm {algo!r}; allowed: {', '.join(ALGOS)}")
    return algo


def algo_class(algo: str) -> type:
    """The SB3 / sb3-contrib class of ``algo``."""
    _check_algo(algo)
    if algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    import stable_baselines3

    return getattr(stable_baselines3, algo.upper())


def load_hyperparams(algo: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hyperparameters of ``algo`` from the package YAML, with ``overrides`` applied on top
    (``policy_kwargs`` and ``features_extractor_kwargs`` are merged key by key)."""
    _check_algo(algo)
    text = resources.files("agents.sb3").joinpath("hyperparams.yaml").read_text()
    hp = copy.deepcopy(yaml.safe_load(text)[algo])
    for key, value in (overrides or {}).items():
        if key == "policy_kwargs" and isinstance(value, dict):
            fx = {
                **hp["policy_kwargs"].get("features_extractor_kwargs", {}),
                **value.get("features_extractor_kwargs", {}),
            }
            hp["policy_kwargs"] = {**hp["policy_kwargs"], **value, "features_extractor_kwargs": fx}
        else:
            hp[key] = value
    return hp


def make_env(
    algo: str,
    env_kwargs: dict[str, Any] | None = None,
    budget: int | None = None,
    monitor_file: str | None = None,
    resume: bool = False,
    env_id: str | None = None,
) -> gym.Env:
    """The wrapped env for ``algo`` (see the module docstring): ``env_id``, default the YAML's
    env of ``algo``. Its ledger is ``env.get_wrapper_attr("ledger")``, limited to ``budget``
    supernet queries."""
    env_id = env_id or load_hyperparams(algo)["env"]
    env = gym.make(env_id, **(env_kwargs or {}))
    env = LedgerWrapper(env, Ledger(budget))
    if algo != "maskable_ppo":
        env = AllowedOpsWrapper(env)
    return Monitor(env, monitor_file, info_keywords=INFO_KEYWORDS, override_existing=not resume)


def build_model(
    algo: str,
    env: gym.Env,
    seed: int = 0,
    device: str = "auto",
    hyperparams: dict[str, Any] | None = None,
    tensorboard_log: str | None = None,
):
    """A fresh SB3 model of ``algo`` on ``env`` with the graph features extractor."""
    hp = dict(hyperparams if hyperparams is not None else load_hyperparams(algo))
    for key in ("env", "n_timesteps"):
        hp.pop(key, None)
    policy = hp.pop("policy", "MultiInputPolicy")
    policy_kwargs = dict(hp.pop("policy_kwargs", {}))
    policy_kwargs["features_extractor_class"] = GraphFeaturesExtractor
    return algo_class(algo)(
        policy,
        env,
        seed=seed,
        device=device,
        policy_kwargs=policy_kwargs,
        tensorboard_log=tensorboard_log,
        verbose=0,
        **hp,
    )


class StopOnBudget(BaseCallback):
    """Stops training once ``ledger`` has spent its supernet-query budget."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__()
        self.ledger = ledger

    def _on_step(self) -> bool:
        return not self.ledger.exhausted


class ProgressBar(BaseCallback):
    """A tqdm bar over environment steps."""

    def __init__(self, total: int, desc: str) -> None:
        super().__init__()
        self.total, self.desc, self.bar = total, desc, None

    def _on_training_start(self) -> None:
        self.bar = progress_bar(total=self.total, initial=self.num_timesteps, desc=self.desc)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class AtomicCheckpoint(BaseCallback):
    """Saves ``model.zip`` (and DQN's replay buffer) in ``out_dir`` every ``save_freq`` steps and
    at the end, each atomically (:func:`natgym.files.atomic_write`)."""

    def __init__(self, out_dir: Path, save_freq: int) -> None:
        super().__init__()
        self.out_dir, self.save_freq = out_dir, save_freq

    def save(self) -> None:
        """Write the checkpoint now."""
        atomic_write(self.out_dir / "model.zip", self.model.save)
        if hasattr(self.model, "replay_buffer") and self.model.replay_buffer is not None:
            atomic_write(self.out_dir / "replay_buffer.pkl", self.model.save_replay_buffer)

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            self.save()
        return True

    def _on_training_end(self) -> None:
        self.save()


@dataclass
class SB3Result:
    """What :func:`train` hands back: the model, the training env's ledger and the steps done."""

    model: Any
    ledger: Ledger
    timesteps: int


def budget_timesteps(algo: str, budget: int, env: gym.Env) -> int:
    """Env steps that spend ``budget`` supernet queries (episodes x steps per episode)."""
    spaces = env.observation_space.spaces
    # NAT-CellSeq-v0 decides one edge per step
    per_episode = int(spaces["current_edge"].n) if "current_edge" in spaces else 1
    return max(1, budget // QUERIES_PER_EPISODE) * per_episode


def train(
    algo: str,
    env_kwargs: dict[str, Any] | None = None,
    timesteps: int | None = None,
    budget: int | None = None,
    seed: int = 0,
    device: str = "auto",
    out_dir: str | os.PathLike | None = None,
    eval_freq: int = 0,
    eval_episodes: int = 4,
    save_freq: int = 1024,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
    callbacks: Sequence[BaseCallback] = (),
    resume: bool = True,
) -> SB3Result:
    """Train ``algo`` on its natgym env (see the module docstring).

    ``timesteps`` defaults to the YAML's ``n_timesteps`` or, with ``budget`` (supernet queries),
    to the steps that spend it. ``eval_freq`` > 0 evaluates every that many steps on a separate
    env (deterministic policy, ``eval_episodes`` episodes). ``callbacks`` are SB3 callbacks run
    after the budget check (e.g. to evaluate the model during training).

    A run in ``out_dir`` resumes (``resume=False`` starts afresh, replacing its files) only with
    the settings it was started with -- algorithm, seed, hyperparameters and env arguments,
    stored in ``out_dir/settings.json``; other settings raise :class:`ConfigError` naming them
    (a longer ``timesteps`` or ``budget`` resumes).
    """
    hp = load_hyperparams(algo, overrides)
    out = Path(out_dir) if out_dir is not None else None
    model_path = out / "model.zip" if out else None
    resume = bool(resume and model_path and model_path.exists())
    settings = run_settings(algo, env_kwargs, seed, hp)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        stored = out / "settings.json"
        if resume and stored.is_file():
            have = read_json(stored, "out_dir", "delete the folder (or pass --no-resume) to start over")
            keys = sorted(set(settings) | set(have))
            differ = [
                f"{k}: {have.get(k)!r} stored, {settings.get(k)!r} now"
                for k in keys
                if have.get(k) != settings.get(k)
            ]
            if differ:
                raise ConfigError(
                    f"out_dir: {out} holds a {have.get('algo')} run with other settings "
                    f"({'; '.join(differ)}); pass another --out, or --no-resume to start over there "
                    "(its files are replaced)"
                )
        write_json(stored, settings, indent=1)
    env = make_env(algo, env_kwargs, budget, str(out / "monitor.csv") if out else None, resume, hp["env"])
    ledger = env.get_wrapper_attr("ledger")
    if timesteps is None:
        timesteps = budget_timesteps(algo, budget, env) if budget is not None else int(hp["n_timesteps"])
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) or timesteps < 1:
        raise ConfigError(f"timesteps: expected a positive number of env steps, got {timesteps!r}")
    tb = str(out / "tb") if out else None
    if resume:
        model = algo_class(algo).load(model_path, env=env, device=device, tensorboard_log=tb)
        if (out / "replay_buffer.pkl").exists() and hasattr(model, "load_replay_buffer"):
            model.load_replay_buffer(out / "replay_buffer.pkl")
    else:
        model = build_model(algo, env, seed, device, hp, tb)
    run: list[BaseCallback] = [StopOnBudget(ledger), *callbacks]
    if progress:
        run.append(ProgressBar(int(timesteps), algo))
    if out:
        run.append(AtomicCheckpoint(out, save_freq))
    if eval_freq > 0:
        eval_env = make_env(algo, env_kwargs, env_id=hp["env"])
        if algo == "maskable_ppo":
            from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback as Eval
        else:
            Eval = EvalCallback
        run.append(
            Eval(
                eval_env,
                n_eval_episodes=eval_episodes,
                eval_freq=eval_freq,
                deterministic=True,
                log_path=str(out) if out else None,
                best_model_save_path=str(out) if out else None,
            )
        )
    remaining = int(timesteps) - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=CallbackList(run), reset_num_timesteps=not resume, tb_log_name=algo)
    return SB3Result(model, ledger, model.num_timesteps)


def run_settings(
    algo: str, env_kwargs: dict[str, Any] | None, seed: int, hp: dict[str, Any]
) -> dict[str, Any]:
    """What a resumed run must share with the stored one, as plain JSON values keyed
    ``algo``, ``seed``, ``hyperparams.<name>`` (without ``n_timesteps``) and
    ``env_kwargs.<name>`` (an evaluator by its reward spec, else by its type)."""

    def plain(value: Any) -> Any:
        spec = getattr(value, "spec", None)
        if hasattr(spec, "to_dict"):
            return {"evaluator": type(value).__name__, **spec.to_dict()}
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return f"{type(value).__module__}.{type(value).__qualname__}"

    raw = {
        "algo": algo,
        "seed": int(seed),
        **{f"hyperparams.{k}": v for k, v in hp.items() if k != "n_timesteps"},
        **{f"env_kwargs.{k}": v for k, v in (env_kwargs or {}).items()},
    }
    return json.loads(json.dumps(raw, default=plain, sort_keys=True))


def greedy_episode(
    model: Any, env: gym.Env, genotype: Any = None, deterministic: bool = True
) -> tuple[float, dict[str, Any]]:
    """Run one episode of ``model`` on ``env`` (an env from :func:`make_env`), starting from
    ``genotype`` if given -- deterministic (the greedy action) unless ``deterministic`` is False
    (a sample of the policy); returns the episode reward and the final ``info``. MaskablePPO
    gets the env's action masks at every step."""
    masked = type(model).__name__ == "MaskablePPO"
    obs, _ = env.reset(options={"genotype": genotype} if genotype is not None else None)
    total, done, info = 0.0, False, {}
    while not done:
        kwargs = {"action_masks": env.get_wrapper_attr("action_masks")()} if masked else {}
        action, _ = model.predict(obs, deterministic=deterministic, **kwargs)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        done = terminated or truncated
    return total, info
