"""REINFORCE for the NAT policy, CleanRL style: the whole algorithm in :func:`train`, read top to
bottom, its hyperparameters in :class:`NATConfig` (docs/method.md section 6 defaults).

Each update resets a vector of ``num_envs`` one-step environments (inputs drawn by the env from
seeds derived from ``(seed, update)``), samples one transformation per episode from the policy,
steps once, and minimises

    -(log pi_normal + log pi_reduce) * (r - b) - entropy_coef * (H_normal + H_reduce)

averaged over the batch, where ``log pi_cell`` / ``H_cell`` sum over that cell's edges (on
``NAT-Path-v0`` also over its nodes' source pairs, from the policy's source head) and ``b``
is a moving-average baseline ``b <- decay * b + (1 - decay) * mean(r)`` (started at the first
batch's mean reward). ``reference_baseline=True`` feeds the advantage ``mean(r - b)`` into the
average instead, as the reference code does. The trainer talks to the environment only through
the Gymnasium vector API; action masks come from ``obs["action_mask"]`` (or ``action_masks()``).

``cotrain=True`` runs the paper's alternation (docs/method.md section 6): before every block of
``cotrain_every`` policy updates the supernet weights are trained for ``cotrain_steps`` SGD steps
on uniformly sampled architectures (default: one pass over the evaluator's weight-train split),
through :meth:`natgym.reward.SupernetEvaluator.train_weights`; the evaluator's state is
checkpointed with the agent. Build that evaluator with its own ``cotrain`` off.

Outputs in ``out_dir``: ``progress.csv``, TensorBoard events in ``tb/``, and ``checkpoint.pt``
(written atomically) holding everything needed to resume so that the next update after a
resume is the same as without the interruption.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.nat.policy import VARIANTS, NATPolicy
from natgym.checks import finite, nonneg_int, positive_int
from natgym.device import resolve_device
from natgym.errors import ConfigError, TrainingDiverged
from natgym.files import load_checkpoint, save_torch
from natgym.progress import progress_bar


@dataclass
class NATConfig:
    """Hyperparameters of a NAT agent run (docs/method.md section 6 defaults)."""

    env_id: str = "NAT-Cell-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    num_envs: int = 8
    """Episodes per policy update."""
    updates: int = 200
    variant: str = "improved"
    hidden: int = 64
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 5e-4
    baseline_decay: float = 0.99
    reference_baseline: bool = False
    entropy_coef: float = 0.003
    seed: int = 1234
    device: str = "auto"
    cotrain: bool = False
    cotrain_every: int = 10
    cotrain_steps: int | None = None
    """SGD steps per weight phase; None = one pass over the weight-train split."""
    out_dir: str | None = None
    checkpoint_every: int = 10
    progress: bool = True

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field."""
        if self.variant not in VARIANTS:
            raise ConfigError(
                f"variant: unknown policy variant {self.variant!r}; allowed: {', '.join(VARIANTS)}"
            )
        for name in ("num_envs", "updates", "hidden", "checkpoint_every", "cotrain_every"):
            positive_int(name, getattr(self, name))
        if self.cotrain_steps is not None:
            positive_int("cotrain_steps", self.cotrain_steps)
        nonneg_int("seed", self.seed)
        if not 0.0 <= finite("baseline_decay", self.baseline_decay, 0.0, 1.0) < 1.0:
            raise ConfigError(f"baseline_decay: expected a value in [0, 1), got {self.baseline_decay!r}")
        finite("lr", self.lr, 0.0, open_low=True)
        finite("entropy_coef", self.entropy_coef, 0.0)
        finite("weight_decay", self.weight_decay, 0.0)
        for i, beta in enumerate(self.betas):
            finite(f"betas[{i}]", beta, 0.0, 1.0)

    def differences(self, stored: dict[str, Any]) -> list[str]:
        """The fields (other than :data:`RESUMABLE`) where a checkpoint's stored config differs
        from this one, as ``"name stored there, this asked"``."""
        mine = asdict(self)
        out = []
        for key, value in mine.items():
            theirs = stored.get(key)
            if key in RESUMABLE or _plain(theirs) == _plain(value):
                continue
            out.append(f"{key} {theirs!r} there, {value!r} asked")
        return out


RESUMABLE = ("updates", "out_dir", "checkpoint_every", "progress", "device")
"""NATConfig fields a resumed run may change (train longer, move, log less, another device)."""


def _plain(value: Any) -> Any:
    """Tuples as lists (a checkpoint stores tuples; JSON and some loaders give lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass
class TrainResult:
    """What :func:`train` hands back."""

    policy: NATPolicy
    history: list[dict[str, float]]
    baseline: float | None
    config: NATConfig


CSV_FIELDS = (
    "update",
    "episodes",
    "reward",
    "reward_std",
    "acc_before",
    "acc_after",
    "madds_ratio",
    "entropy",
    "invalid_rate",
    "baseline",
    "loss",
)


def make_envs(config: NATConfig, evaluator: Any = None) -> gym.vector.VectorEnv:
    """The vector env of ``config`` (the id's batched vector entry point when it has one);
    ``evaluator`` (if given) is passed to every env as its ``reward`` argument."""
    kwargs = dict(config.env_kwargs)
    if evaluator is not None:
        kwargs["reward"] = evaluator
    return gym.make_vec(config.env_id, num_envs=config.num_envs, **kwargs)


def action_masks(envs: gym.vector.VectorEnv, obs: dict[str, np.ndarray]) -> np.ndarray:
    """Flat boolean masks ``(num_envs, 2E * 13)``: ``obs["action_mask"]`` or ``action_masks()``."""
    if "action_mask" in obs:
        return np.asarray(obs["action_mask"]).astype(bool)
    return np.stack([np.asarray(m) for m in envs.call("action_masks")]).astype(bool)


def _info_mean(infos: dict[str, Any], key: str, fn: Callable[[Any], float] = float) -> float:
    if key not in infos:
        return float("nan")
    values = [fn(v) for v, ok in zip(infos[key], infos.get("_" + key, [True] * len(infos[key]))) if ok]
    return float(np.mean(values)) if values else float("nan")


def _count(v: Any) -> float:
    return float(np.size(v)) if isinstance(v, (list, tuple, np.ndarray)) else float(v)


def load_policy(path: str | os.PathLike, device: str | torch.device = "auto") -> NATPolicy:
    """The trained policy stored in a :func:`train` checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"checkpoint: no such file {str(path)!r}; pass a checkpoint.pt written by train-agent"
        )
    state = load_checkpoint(path, "checkpoint", "pass a checkpoint.pt written by natgym train-agent")
    cfg = state["config"]
    wiring = bool(state.get("wiring", False))
    policy = NATPolicy(cfg["variant"], hidden=cfg["hidden"], wiring=wiring).to(resolve_device(device))
    policy.load_state_dict(state["policy"])
    return policy.eval()


def train(
    config: NATConfig,
    envs: gym.vector.VectorEnv | None = None,
    evaluator: Any = None,
    resume: bool = True,
    on_update: Callable[[int, dict[str, float], NATPolicy], None] | None = None,
) -> TrainResult:
    """Train a NAT policy with REINFORCE; resume from ``out_dir/checkpoint.pt`` when present.

    ``envs`` defaults to ``make_envs(config, evaluator)``; with ``evaluator`` None, co-training
    uses the envs' own ``evaluator``. ``on_update(update, row, policy)`` is called after each update
    has been logged and checkpointed (e.g. to evaluate the policy during training).
    """
    config.validate()
    device = resolve_device(config.device)
    own_envs = envs is None
    envs = make_envs(config, evaluator) if own_envs else envs
    num_envs = envs.num_envs
    evaluator = evaluator if evaluator is not None else getattr(envs, "evaluator", None)
    if config.cotrain and not callable(getattr(evaluator, "train_weights", None)):
        if own_envs:
            envs.close()
        raise ConfigError("cotrain: needs an evaluator with train_weights(steps) (a supernet evaluator)")
    if config.cotrain:
        weight_steps = config.cotrain_steps or -(
            -len(evaluator.data.train) // evaluator.train_config.batch_size
        )

    # ---- policy, optimiser, sampling RNG (all seeded from config.seed)
    torch.manual_seed(config.seed)
    wiring = "wiring_mask" in getattr(envs.single_observation_space, "spaces", {})
    policy = NATPolicy(config.variant, hidden=config.hidden, wiring=wiring).to(device)
    optimizer = torch.optim.Adam(
        policy.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed)
    baseline: float | None = None
    start = 0
    history: list[dict[str, float]] = []

    # ---- resume
    out = Path(config.out_dir) if config.out_dir else None
    ckpt_path = out / "checkpoint.pt" if out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    if resume and ckpt_path is not None and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, "out_dir", "delete it (or pass --no-resume) to start over", device)
        differ = config.differences(state.get("config") or {})
        if differ:
            if own_envs:
                envs.close()
            raise ConfigError(
                f"out_dir: {ckpt_path} holds a run with another configuration ({'; '.join(differ)}); "
                "pass another --out, or --no-resume to start over there (its files are replaced)"
            )
        policy.load_state_dict(state["policy"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].cpu())  # RNG states are CPU byte tensors
        torch.set_rng_state(state["torch_rng"].cpu())
        baseline, start, history = state["baseline"], state["update"], state["history"]
        if config.cotrain and state.get("evaluator") is not None:
            evaluator.load_state_dict(state["evaluator"])

    writer = None
    if out:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=start)
        with open(out / "progress.csv", "w", newline="") as fh:  # rewrite: drop rows past the checkpoint
            w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            w.writeheader()
            w.writerows({k: row[k] for k in CSV_FIELDS} for row in history)

    bar = progress_bar(
        range(start, config.updates),
        initial=start,
        total=config.updates,
        desc="nat agent",
        disable=not config.progress,
    )
    for update in bar:
        # ---- (optional) supernet weight phase of the paper's alternation
        if config.cotrain and update % config.cotrain_every == 0:
            evaluator.train_weights(weight_steps)

        # ---- collect one batch of one-step episodes
        obs, _ = envs.reset(seed=config.seed * 1_000_003 + update * num_envs)
        obs["action_mask"] = action_masks(envs, obs)
        policy.train()
        dist = policy(obs)
        actions = dist.sample(generator)
        _, rewards, _, _, infos = envs.step(actions.cpu().numpy())
        r = torch.as_tensor(np.asarray(rewards), dtype=torch.float32, device=device)

        # ---- REINFORCE loss with the moving-average baseline and per-cell entropy bonus
        log_prob = dist.log_prob(actions).sum(-1)  # over both cells' edges (and source pairs)
        entropy = dist.entropy().sum(-1)
        if baseline is None:
            baseline = float(r.mean())
        advantage = r - baseline
        loss = -(log_prob * advantage).mean() - config.entropy_coef * entropy.mean()
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"training: the policy loss is {float(loss)} at update {update + 1}; the update is not "
                f"applied or saved. The learning rate (lr={config.lr:g}) may be too high, or the rewards "
                "are not finite"
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        fed = float(advantage.mean()) if config.reference_baseline else float(r.mean())
        baseline = config.baseline_decay * baseline + (1.0 - config.baseline_decay) * fed

        # ---- log
        invalid = [_info_mean(infos, k, _count) for k in ("invalid_edges", "invalid_nodes") if k in infos]
        row = {
            "update": update + 1,
            "episodes": (update + 1) * num_envs,
            "reward": float(r.mean()),
            "reward_std": float(r.std(unbiased=False)),
            "acc_before": _info_mean(infos, "acc_before"),
            "acc_after": _info_mean(infos, "acc_after"),
            "madds_ratio": float(
                np.nanmean(np.asarray(infos["madds_after"], float) / np.asarray(infos["madds_before"], float))
            )
            if "madds_before" in infos
            else float("nan"),
            "entropy": float(entropy.detach().mean()),
            "invalid_rate": sum(invalid) / actions.shape[1] if invalid else float("nan"),
            "baseline": baseline,
            "loss": float(loss.detach()),
        }
        history.append(row)
        bar.set_postfix(reward=f"{row['reward']:+.4f}", entropy=f"{row['entropy']:.1f}")
        if out:
            with open(out / "progress.csv", "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=CSV_FIELDS).writerow({k: row[k] for k in CSV_FIELDS})
            for key in CSV_FIELDS[2:]:
                writer.add_scalar(f"nat/{key}", row[key], update + 1)

        # ---- checkpoint (atomic)
        if ckpt_path is not None and (
            (update + 1) % config.checkpoint_every == 0 or update + 1 == config.updates
        ):
            writer.flush()
            save_torch(
                ckpt_path,
                {
                    "config": asdict(config),
                    "policy": policy.state_dict(),
                    "wiring": wiring,
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "baseline": baseline,
                    "update": update + 1,
                    "history": history,
                    "evaluator": evaluator.state_dict() if config.cotrain else None,
                },
            )
        if on_update is not None:
            on_update(update + 1, row, policy)

    bar.close()
    if writer is not None:
        writer.close()
    if own_envs:
        envs.close()
    return TrainResult(policy.eval(), history, baseline, config)
