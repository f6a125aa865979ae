"""Training the supernet weights w on uniformly sampled architectures, with checkpoints and a cache.

Each SGD step takes a minibatch of the weight-train split (augmented per
:meth:`natgym.data.Dataset.augment`), samples an input architecture with
:func:`natgym.zoo.sample` (docs/method.md section 4) and takes one step on the cross-entropy of that
architecture (``TrainConfig.archs="mixed"`` / ``random_concat`` widen this distribution, see
:func:`sample_training_arch`). The digits default trains with ``random_concat`` -- each
cell's ``concat`` a random non-empty subset of its nodes -- so cells that output one node (ResBlock,
VGG, MobileNetV2) are patterns the weights have seen; the CIFAR default stays as the reference
trains (every node concatenated). Optimiser: SGD, momentum 0.9,
weight decay 3e-4, batch 64, constant learning rate (docs/method.md section 6: 0.01 for CIFAR; 0.05 for the
tiny digits preset, which otherwise needs many more epochs to converge).

Tensors use the channels-last memory format on every device (measured faster on CPU as well, for
these small convolutions and pools); on CUDA the forward pass runs under bf16 autocast.

Runs are resumable: the training state (weights, optimiser, epoch) is written atomically
(temporary file, then ``os.replace``) at most every ``checkpoint_seconds`` and at the end of every
epoch after that interval; every epoch's randomness is derived from ``(seed, epoch)``, so a run
that is killed and resumed produces the same weights as one that was not. The finished supernet is
stored under :func:`cache_dir` with a name keyed by a hash of the full configuration, so the same
configuration trains once per machine and loads afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from natgym import distributed, zoo
from natgym.checks import finite, nonneg_int, positive_int
from natgym.cost import stage_depths
from natgym.data import Dataset, dataset_info, load_dataset, source_of
from natgym.device import resolve_device
from natgym.errors import ConfigError, TrainingDiverged
from natgym.files import check_writable, load_checkpoint, save_torch
from natgym.genotype import Cell, Genotype
from natgym.progress import progress_bar
from natgym.supernet.model import PRESETS, Supernet, SupernetConfig
from natgym.transitions import random_transform

FORMAT = 1
"""Version of the checkpoint layout (part of the cache key)."""
SUPERNET_VERSION = 2
"""Version of the supernet code and of the default training recipe (part of the cache key): bumped
whenever a change makes a trained supernet score differently, so nobody keeps scoring with a
supernet cached by an older natgym. Version 2: digits default with a norm after every pooling op
and random ``concat`` subsets in training (``benchmarks/results/fidelity_study``)."""

ARCHS: tuple[str, ...] = ("inputs", "mixed")
"""Training-architecture distributions (:attr:`TrainConfig.archs`): ``inputs`` -- uniformly
sampled input architectures (docs/method.md section 6); ``mixed`` -- such an input with probability
``input_prob``, else a random NAT++ transformation of one (each edge uniform among the ops the rule
allows, so skip/null-heavy cells are trained too)."""

_LATE_DEFAULTS: dict[str, Any] = {
    "archs": "inputs",
    "input_prob": 0.5,
    "random_concat": False,
    "image_size": None,
    "elastic_depth": False,
}
_LATE_NET: dict[str, Any] = {"pool_norm": False}
"""Fields added after format 1 (of the config and of its ``net``), left out of the cache key
while they hold these values."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained supernet (its hash names the cache file)."""

    dataset: str = "digits"
    preset: str = "digits"
    net: SupernetConfig = SupernetConfig()
    epochs: int = 150
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    augment: bool = True
    archs_per_step: int = 1
    seed: int = 0
    archs: str = "inputs"
    input_prob: float = 0.5
    random_concat: bool = False
    image_size: int | None = None
    elastic_depth: bool = False
    """Sample a depth per stage (1 .. the stage's cells, uniformly) at every step, so the
    supernet scores cells at any stage depths (``NAT-Depth-v0``; :meth:`Supernet.active`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.elastic_depth, bool):
            raise ConfigError(f"elastic_depth: expected True or False, got {self.elastic_depth!r}")
        if self.elastic_depth and (
            self.net.stem_multiplier != self.net.steps or min(stage_depths(self.net.layers)) < 1
        ):
            raise ConfigError(
                f"elastic_depth: needs a supernet whose every stage holds a normal cell (layers >= 5, got "
                f"{self.net.layers}) and whose stem is as wide as a cell's output (stem_multiplier == steps "
                f"== {self.net.steps}, got {self.net.stem_multiplier}); the fashion-depth preset is one"
            )
        if self.image_size is not None and positive_int("image_size", self.image_size) < 4:
            raise ConfigError(f"image_size: expected an integer >= 4 or None, got {self.image_size!r}")
        for name in ("epochs", "batch_size", "archs_per_step"):
            positive_int(name, getattr(self, name))
        nonneg_int("seed", self.seed)
        finite("lr", self.lr, 0.0, open_low=True)
        finite("momentum", self.momentum, 0.0, 1.0)
        finite("weight_decay", self.weight_decay, 0.0)
        finite("grad_clip", self.grad_clip, 0.0)
        if self.archs not in ARCHS:
            raise ConfigError(
                f"archs: unknown training architectures {self.archs!r}; allowed: {', '.join(ARCHS)}"
            )
        finite("input_prob", self.input_prob, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "net": SupernetConfig(**data["net"])})

    def key(self) -> str:
        """12-hex-digit hash of the full configuration, the checkpoint format and
        :data:`SUPERNET_VERSION` (fields added after format 1 are left out while they hold their
        defaults, so a key changes only with the configuration or the version)."""
        data = {k: v for k, v in self.to_dict().items() if k not in _LATE_DEFAULTS or v != _LATE_DEFAULTS[k]}
        data["net"] = {k: v for k, v in data["net"].items() if k not in _LATE_NET or v != _LATE_NET[k]}
        text = json.dumps({"format": FORMAT, "version": SUPERNET_VERSION, **data}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def filename(self) -> str:
        """Cache file name: ``supernet-<dataset>-<preset>-<key>.pt`` (a user dataset's
        ``kind:<hash>`` name written ``kind-<hash>``)."""
        return f"supernet-{self.dataset.replace(':', '-')}-{self.preset}-{self.key()}.pt"


USER_STEPS = 2000
"""SGD steps a supernet on your own data trains for by default (about the digits default's)."""


def default_config(
    dataset: str = "digits",
    preset: str | None = None,
    seed: int = 0,
    data: Dataset | None = None,
    steps: int | None = None,
    **overrides: Any,
) -> TrainConfig:
    """The default training configuration for ``dataset`` and ``preset`` (default: the
    dataset's own), for cells of ``steps`` intermediate nodes (default: the preset's 4), with
    ``overrides`` (any :class:`TrainConfig` field) applied.

    Your own data (``folder:PATH`` / ``npz:PATH``) needs the loaded ``data``: the configuration
    takes its content name, channels and classes from it; the preset defaults to ``digits`` for
    images up to 16 x 16 and ``cifar10`` above; training runs ``USER_STEPS`` SGD steps (at
    least 20 epochs) in batches of up to 64."""
    user = source_of(dataset) is not None
    if user and data is None:
        raise ConfigError(f"dataset: {dataset!r} is your own data; pass the loaded dataset as data")
    info = None if user else dataset_info(dataset)
    if user:
        preset = preset or ("digits" if data.image_size <= 16 else "cifar10")
    preset = preset or info.supernet_preset
    if preset not in PRESETS:
        raise ConfigError(f"preset: unknown supernet preset {preset!r}; allowed: {', '.join(PRESETS)}")
    shape = (data.in_channels, data.num_classes) if user else (info.in_channels, info.num_classes)
    net = replace(PRESETS[preset], in_channels=shape[0], num_classes=shape[1])
    if steps is not None:
        net = replace(net, steps=positive_int("steps", steps))
    base = {
        "digits": dict(epochs=150, lr=0.05, random_concat=True),
        "fashion": dict(epochs=8, lr=0.05, random_concat=True, image_size=14),
        "fashion-depth": dict(epochs=8, lr=0.05, random_concat=True, image_size=14, elastic_depth=True),
        "cifar10": dict(epochs=100, lr=0.01),
    }[preset]
    if dataset == "synthetic":  # test data: a few epochs are enough
        base = {**base, "epochs": 5}
    if user:
        batch = min(64, len(data.train))
        base = {**base, "batch_size": batch, "epochs": max(20, -(-USER_STEPS // (len(data.train) // batch)))}
        dataset = data.name
    unknown = sorted(set(overrides) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: unknown training option; allowed: {', '.join(TrainConfig.__dataclass_fields__)}"
        )
    fields = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    if isinstance(fields.get("net"), dict):
        fields["net"] = SupernetConfig(**fields["net"])
    net = fields.pop("net", net)
    return TrainConfig(dataset=dataset, preset=preset, net=net, seed=seed, **fields)


def supernet_data(config: TrainConfig, data_root: str | os.PathLike | None = None) -> Dataset:
    """The dataset a supernet of ``config`` is trained and scored on: its dataset split with its
    seed, at its ``image_size`` (a built-in dataset; your own data is passed in loaded)."""
    return load_dataset(config.dataset, data_root, config.seed, config.image_size)


def sample_training_arch(config: TrainConfig, rng: np.random.Generator) -> Genotype:
    """One training architecture drawn from ``config``'s distribution (:data:`ARCHS`; with
    ``random_concat`` each cell's ``concat`` is a uniformly random non-empty subset of its nodes).
    In ``inputs`` mode without ``random_concat`` this is exactly :func:`natgym.zoo.sample`."""
    steps = config.net.steps
    genotype = zoo.sample(rng, steps)
    if config.archs == "mixed" and rng.random() >= config.input_prob:
        genotype = random_transform(genotype, rng)
    if config.random_concat:
        cells = []
        for cell in genotype.cells:
            bits = int(rng.integers(1, 2**steps))  # a non-empty subset of the steps nodes
            concat = tuple(node for node in range(2, steps + 2) if bits >> (node - 2) & 1)
            cells.append(Cell(cell.edges, concat))
        genotype = Genotype(*cells)
    return genotype


def cache_dir() -> Path:
    """Where trained supernets live: ``$NATGYM_CACHE`` or ``~/.cache/natgym``, plus ``supernets``."""
    root = os.environ.get("NATGYM_CACHE") or Path.home() / ".cache" / "natgym"
    return Path(root) / "supernets"


class Trainer:
    """SGD on the supernet's weights with uniformly sampled architectures.

    :meth:`step` takes one minibatch step; :meth:`epoch` a pass over the weight-train split. Used
    by :func:`train_supernet` and by the co-training evaluator. Under ``torchrun`` (``world`` > 1)
    every rank draws the same minibatch indices and architectures, trains on its own share of
    the minibatch (``index[rank::world]``) through ``DistributedDataParallel``, which averages
    the gradients, and reports the loss and accuracy averaged over ranks.
    """

    def __init__(
        self,
        model: Supernet,
        data: Dataset,
        config: TrainConfig,
        device: torch.device,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.model, self.data, self.config, self.device = model, data, config, device
        self.rank, self.world = rank, world
        self.forward = model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            self.forward = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        self.images = data.train.images.to(device)
        self.labels = data.train.labels.to(device)
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
        self.epochs_done = 0
        self.steps_done = 0
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)

    def reseed(self, epoch: int) -> None:
        """Derive all randomness of ``epoch`` from ``(seed, epoch)``."""
        self.generator.manual_seed(
            int(np.random.SeedSequence([self.config.seed, epoch]).generate_state(1)[0])
        )
        self.rng = np.random.default_rng([self.config.seed, epoch, 1])

    def step(self, index: torch.Tensor | None = None) -> tuple[float, float]:
        """One SGD step on images ``index`` of the weight-train split (default: a random
        minibatch) for ``archs_per_step`` sampled architectures (mean loss over them); returns
        (loss, accuracy) of the minibatch."""
        if index is None:
            index = torch.randint(0, len(self.labels), (self.config.batch_size,), generator=self.generator)
        if self.world > 1:
            index = index[self.rank :: self.world]
        index = index.to(self.device)
        x, y = self.images[index], self.labels[index]
        if self.config.augment:
            x = self.data.augment(x, self.generator)
        x = x.contiguous(memory_format=torch.channels_last)
        genotypes = [sample_training_arch(self.config, self.rng) for _ in range(self.config.archs_per_step)]
        depths = None
        if self.config.elastic_depth:
            depths = tuple(int(self.rng.integers(1, most + 1)) for most in self.model.max_depths)
        self.model.train()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits = self.forward(x, genotypes, depths).flatten(0, 1)
        y = y.repeat(len(genotypes))
        loss = F.cross_entropy(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"training: the loss is {value} at step {self.steps_done + 1} "
                f"(epoch {self.epochs_done + 1}); the weights are not saved. The learning rate "
                f"(lr={self.config.lr:g}) is likely too high"
            )
        self.optimizer.step()
        self.steps_done += 1
        accuracy = (logits.detach().argmax(1) == y).float().mean().item()
        if self.world > 1:
            value, accuracy = distributed.mean([value, accuracy], self.device)
        return value, accuracy

    def epoch(self, progress: Callable[[float, float], None] | None = None) -> tuple[float, float]:
        """A pass over the weight-train split in random minibatches (the last partial one
        dropped); returns the mean (loss, accuracy)."""
        self.reseed(self.epochs_done)
        perm = torch.randperm(len(self.labels), generator=self.generator)
        bs = self.config.batch_size
        stats = []
        for start in range(0, len(perm) - bs + 1, bs):
            stats.append(self.step(perm[start : start + bs]))
            if progress is not None:
                progress(*stats[-1])
        self.epochs_done += 1
        return tuple(np.mean(stats, axis=0)) if stats else (float("nan"), float("nan"))

    def state(self) -> dict[str, Any]:
        """Everything needed to resume."""
        return {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epochs_done": self.epochs_done,
            "steps_done": self.steps_done,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epochs_done, self.steps_done = state["epochs_done"], state["steps_done"]


def train_supernet(
    config: TrainConfig,
    path: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    data: Dataset | None = None,
    data_root: str | None = None,
    progress: bool = True,
    checkpoint_seconds: float = 30.0,
    on_epoch: Callable[[int], None] | None = None,
) -> Path:
    """Train a supernet for ``config`` and store it at ``path`` (default: the cache file).

    Returns at once if ``path`` already holds the finished supernet. A partial run's checkpoint
    (``<path>.partial``) is resumed. ``on_epoch(epochs_done)`` is called after every epoch (after
    any checkpoint), e.g. to stop a run early. The stored file holds the weights, the
    configuration and ``train_seconds`` / ``train_images`` / final train loss and accuracy.
    Concurrent calls for the same ``path`` train it once (a lock file; the others wait).
    """
    cached = path is None
    path = Path(path) if path is not None else cache_dir() / config.filename()
    field = "NATGYM_CACHE" if cached else "out"
    if _finished(path, config, cached):
        return path
    check_writable(path, field, need_bytes=3 * 4 * sum(p.numel() for p in Supernet(config.net).parameters()))
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # torchrun: the ranks train together, rank 0 writes
        return _train(config, path, device, data, data_root, progress, checkpoint_seconds, on_epoch)
    with _lock(path.with_name(path.name + ".lock"), progress):
        if _finished(path, config, cached):  # another process finished it while we waited
            return path
        return _train(config, path, device, data, data_root, progress, checkpoint_seconds, on_epoch)


def _finished(path: Path, config: TrainConfig, cached: bool) -> bool:
    """Whether ``path`` holds the finished supernet of ``config``. A file with another
    configuration is refused (naming the differing fields); an unreadable cache file is moved
    aside with a warning (and retrained), an unreadable ``--out`` file is refused."""
    if not path.is_file():
        return False
    hint = "delete it, or pass another --out"
    try:
        state = load_checkpoint(path, "out", hint)
        stored = TrainConfig.from_dict(state["config"])
    except (ConfigError, KeyError, TypeError) as exc:
        if not cached:
            raise ConfigError(f"out: {path} is not a readable natgym supernet ({exc}); {hint}") from None
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        os.replace(path, aside)
        warnings.warn(
            f"NATGYM_CACHE: the cached supernet {path} was unreadable; moved it to {aside} and "
            "training it again",
            stacklevel=3,
        )
        return False
    if stored != config:
        mine, theirs = config.to_dict(), stored.to_dict()
        diff = ", ".join(f"{k} {theirs[k]!r} there, {mine[k]!r} asked" for k in mine if mine[k] != theirs[k])
        raise ConfigError(f"out: {path} holds a supernet trained with another configuration ({diff}); {hint}")
    return True


@contextlib.contextmanager
def _lock(path: Path, progress: bool) -> Iterator[None]:
    """Exclusive lock on ``path`` so two processes never train the same supernet at once (the
    second waits, then loads the first one's result). No-op where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                print(f"waiting for another process to finish training {path.name[:-5]} ...", flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train(
    config: TrainConfig,
    path: Path,
    device: str | torch.device,
    data: Dataset | None,
    data_root: str | None,
    progress: bool,
    checkpoint_seconds: float,
    on_epoch: Callable[[int], None] | None,
) -> Path:
    rank, world, dev = distributed.setup(device)
    progress = progress and rank == 0
    data = data if data is not None else supernet_data(config, data_root)
    torch.manual_seed(config.seed)
    model = Supernet(config.net).to(dev, memory_format=torch.channels_last)
    trainer = Trainer(model, data, config, dev, rank, world)
    partial = path.with_name(path.name + ".partial")
    elapsed = 0.0
    if partial.is_file():
        state = load_checkpoint(partial, "supernet", "delete it to restart the training", dev)
        if state.get("config") == config.to_dict() and state.get("format") == FORMAT:
            trainer.load_state(state)
            elapsed = state.get("train_seconds", 0.0)

    steps_per_epoch = len(data.train) // config.batch_size
    bar = progress_bar(
        total=config.epochs * steps_per_epoch,
        initial=trainer.epochs_done * steps_per_epoch,
        desc=f"supernet {config.dataset}/{config.preset}",
        unit="step",
        disable=not progress,
        leave=False,
    )
    if trainer.epochs_done:
        bar.write(f"resuming supernet training from epoch {trainer.epochs_done} ({partial})")
    last_save = time.monotonic()
    loss = acc = float("nan")
    while trainer.epochs_done < config.epochs:
        start = time.perf_counter()
        loss, acc = trainer.epoch(
            lambda lo, ac: (bar.update(1), bar.set_postfix(loss=f"{lo:.3f}", acc=f"{ac:.3f}"))
        )
        elapsed += time.perf_counter() - start
        due = time.monotonic() - last_save >= checkpoint_seconds or trainer.epochs_done == config.epochs
        if due and rank == 0:
            save_torch(partial, {**trainer.state(), "train_seconds": elapsed})
            last_save = time.monotonic()
        if on_epoch is not None:
            on_epoch(trainer.epochs_done)
    bar.close()
    final = {
        "format": FORMAT,
        "config": config.to_dict(),
        "model": {k: v.contiguous() for k, v in model.state_dict().items()},
        "train_seconds": elapsed,
        "train_images": trainer.epochs_done * steps_per_epoch * config.batch_size,
        "train_loss": float(loss),
        "train_accuracy": float(acc),
        "device": str(dev),
    }
    if rank == 0:
        save_torch(path, final)
        partial.unlink(missing_ok=True)
    distributed.barrier()  # every rank returns once the file exists
    return path


def load_supernet(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[Supernet, dict[str, Any]]:
    """A trained supernet and its metadata (``config`` as :class:`TrainConfig`, ``train_seconds``...)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"supernet: no checkpoint file at {path}")
    state = load_checkpoint(
        path,
        "supernet",
        "retrain it with natgym train-supernet (the cache rebuilds a deleted file)",
        resolve_device(device),
    )
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise ConfigError(f"supernet: {path} is not a natgym supernet checkpoint (format {FORMAT})")
    config = TrainConfig.from_dict(state["config"])
    model = Supernet(config.net).to(resolve_device(device))
    model.load_state_dict(state["model"])
    meta = {k: v for k, v in state.items() if k != "model"}
    meta["config"] = config
    return model, meta


def cached_supernet(config: TrainConfig, device: str | torch.device = "auto", **kwargs: Any) -> Path:
    """The cache file for ``config``, training it first if this machine has not yet."""
    return train_supernet(config, None, device, **kwargs)
