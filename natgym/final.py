"""Final evaluation: train a genotype's stand-alone network from scratch and report test accuracy.

A transformed architecture is only better if it is better when trained on its own. This module
trains :class:`natgym.network.Network` with the DARTS final protocol (docs/method.md section 6) and
reports the test accuracy over several seeds.

Data: the network trains on the dataset's ``train`` + ``policy`` splits together (for CIFAR
that is the whole official training set) and is tested once, after the last epoch, on the
``test`` split (for CIFAR the official test set). The test split is never used for any choice
during training. The dataset split is fixed (data seed 0); only the training seed varies.

Presets (:data:`PRESETS`; any field can be overridden):

* ``cifar10`` -- the DARTS protocol: 600 epochs, batch 96, 36 channels, 20 cells, SGD
  (momentum 0.9, weight decay 3e-4) with lr 0.025 cosine-annealed per epoch to 0, crop + flip
  augmentation and cutout 16, drop-path 0.2 scaled linearly from 0 over the epochs, auxiliary
  head weight 0.4, gradient-norm clip 5. On CUDA it runs under bf16 autocast with channels_last.
* ``digits`` -- a protocol chosen to tell architectures apart on the embedded 8x8 digits
  (``benchmarks/protocol_study.py``, results in ``benchmarks/results/protocol_study/``): 10
  epochs, batch 96, 4 channels, 5 cells (reductions at cells 1 and 3), SGD lr 0.05 cosine, crop
  augmentation (pad 1, no flip), gradient clip 5, and 5-fold cross-validation over all 1,797
  images (seed ``s`` is tested on fold ``s % 5``). Among the candidates measured side by side
  (8 or 4 channels, 20 or 10 epochs, the fixed 359-image test split or 5-fold CV) it spread the
  architectures' mean accuracies widest relative to the seed noise (range 38x the median seed
  std, split-half Kendall tau 0.91) at half the cost of the 20-epoch candidates; at 8 channels
  and 20 epochs (the earlier preset) most cells saturate near 99 %. Being short, it measures how
  well a cell trains in a small budget, which is what a digits ground truth can measure. The
  long-schedule regularisers are off: drop-path and cutout are tuned for 600 epochs and hurt a
  short run (measured, one seed, at 8 channels and 20 epochs: MobileNetV2 69.6 % test accuracy
  with drop-path 0.1 + cutout 2 against 92.8 % without), and the auxiliary head (~420K
  parameters) would dwarf the network it helps. They stay available as overrides
  (``drop_path=``, ``cutout=``, ``auxiliary=``).
* ``fashion`` -- Fashion-MNIST at 14 x 14 (2 x 2 means), 8 channels, 5 cells, SGD lr 0.05
  cosine-annealed at every step to 0, batch 96, 3 epochs over a fixed 10,000-image subset of the
  official training set (the same images for every seed), tested on the official 10,000-image
  test set. Of the protocols measured side by side (``benchmarks/protocol_study.py --dataset
  fashion``; results in ``benchmarks/results/protocol_study_fashion/``) it is the cheapest of
  those that tie for the most reliable: one training ranks the study's 26 cells like another
  seed's at Kendall tau 0.61 (lr 0.1: 0.64, batch 32: 0.64 at 1.5x the time, 16 channels: 0.63
  at 1.8x; the estimate's own uncertainty is about +-0.07) -- twice digits' 0.29, below the 0.8
  a ground truth should have. The per-step schedule is what moved it from 0.54 (per-epoch
  annealing, whose last of three epochs still trains at a quarter of the rate).

Output of :func:`evaluate` (``out_dir``): ``seed_<s>/checkpoint.pt`` (written atomically after
every epoch; a killed run resumes from it), ``seed_<s>/result.json`` (one seed), and
``result.json``::

    {"genotype": {...}, "genotype_text": "Genotype(...)", "preset": "digits", "config": {...},
     "dataset": "digits", "device": "cpu", "seeds": [0, 1, 2],
     "test_accuracy": [0.97, ...],              # per seed, fraction in [0, 1]
     "test_accuracy_mean": 0.97, "test_accuracy_std": 0.004,   # std over seeds, ddof=1
     "params": 36586, "madds": 2.1e6,           # at the trained size (auxiliary head excluded)
     "params_cifar": 3349342, "madds_cifar": 5.3e8,  # natgym.cost at 36 channels, 20 cells, 32x32
     "wall_time_s": [...], "wall_time_s_total": 123.4}
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from natgym import distributed
from natgym.checks import finite, nonneg_int, positive_int
from natgym.cost import network_cost
from natgym.errors import ConfigError, TrainingDiverged
from natgym.files import check_writable, load_checkpoint, read_json, save_torch, write_json
from natgym.genotype import Genotype
from natgym.network import Network, count_params
from natgym.progress import progress_bar

LR_SCHEDULES: tuple[str, ...] = ("epoch", "step")
"""When the cosine learning rate is updated: once per epoch (the DARTS recipe, fine over 600
epochs) or at every SGD step (what a run of a few epochs needs to end at a small rate)."""


@dataclass(frozen=True)
class FinalConfig:
    """Hyperparameters of from-scratch training (defaults: the DARTS CIFAR-10 protocol)."""

    dataset: str = "cifar10"
    epochs: int = 600
    batch_size: int = 96
    channels: int = 36
    layers: int = 20
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    cutout: int = 16
    drop_path: float = 0.2
    auxiliary: float = 0.4
    grad_clip: float = 5.0
    augment: bool = True
    eval_batch_size: int = 500
    folds: int = 0
    image_size: int | None = None
    train_subset: int = 0
    lr_schedule: str = "epoch"
    data_seed: int | None = None

    def __post_init__(self) -> None:
        if self.data_seed is not None:
            nonneg_int("data_seed", self.data_seed)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"lr_schedule: unknown schedule {self.lr_schedule!r}; allowed: {', '.join(LR_SCHEDULES)}"
            )
        if self.image_size is not None and positive_int("image_size", self.image_size) < 4:
            raise ConfigError(f"image_size: expected an integer >= 4 or None, got {self.image_size!r}")
        nonneg_int("train_subset", self.train_subset)
        if self.train_subset and self.folds:
            raise ConfigError("train_subset: only with folds=0 (the dataset's own test split)")
        for name in ("epochs", "batch_size", "channels", "layers", "eval_batch_size"):
            positive_int(name, getattr(self, name))
        if self.channels % 2:
            raise ConfigError(f"channels: must be even, got {self.channels}")
        finite("lr", self.lr, 0.0, open_low=True)
        for name in ("lr_min", "momentum", "weight_decay", "auxiliary", "grad_clip"):
            finite(name, getattr(self, name), 0.0)
        if not 0 <= finite("drop_path", self.drop_path, 0.0, 1.0) < 1:
            raise ConfigError(f"drop_path: expected a probability in [0, 1), got {self.drop_path!r}")
        nonneg_int("cutout", self.cutout)
        if (
            isinstance(self.folds, bool)
            or not isinstance(self.folds, int)
            or self.folds < 0
            or self.folds == 1
        ):
            raise ConfigError(f"folds: expected 0 (the dataset's own test split) or >= 2, got {self.folds!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, without fields added later (``image_size``,
        ``train_subset``, ``lr_schedule``, ``data_seed``) while they hold their defaults -- so runs
        stored before they existed keep their identity."""
        return {k: v for k, v in asdict(self).items() if k not in _LATE_DEFAULTS or v != _LATE_DEFAULTS[k]}


_LATE_DEFAULTS: dict[str, Any] = {
    "image_size": None,
    "train_subset": 0,
    "lr_schedule": "epoch",
    "data_seed": None,
}


_DIGITS = FinalConfig(
    dataset="digits",
    epochs=10,
    batch_size=96,
    channels=4,
    layers=5,
    lr=0.05,
    cutout=0,
    drop_path=0.0,
    auxiliary=0.0,
    eval_batch_size=1000,
    folds=5,
)

PRESETS: dict[str, FinalConfig] = {
    "cifar10": FinalConfig(),
    "digits": _DIGITS,
    "fashion": replace(
        _DIGITS,
        dataset="fashion",
        epochs=3,
        channels=8,
        folds=0,
        image_size=14,
        train_subset=10_000,
        lr_schedule="step",
    ),
}
"""Named configurations for ``natgym evaluate --preset``."""

CIFAR_REFERENCE = {"channels": 36, "layers": 20, "image_size": 32, "num_classes": 10, "in_channels": 3}
"""The size at which the paper reports params and MAdds."""


def make_config(preset: str = "digits", **overrides: Any) -> FinalConfig:
    """The preset ``preset`` with some fields replaced (``None`` values are ignored)."""
    if preset not in PRESETS:
        raise ConfigError(f"preset: unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    known = {f.name for f in fields(FinalConfig)}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"{key}: unknown training option; allowed: {', '.join(sorted(known))}")
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


def cutout(images: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one ``length`` x ``length`` square per image, centred uniformly (clipped at borders)."""
    if length <= 0:
        return images
    n, _, h, w = images.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=generator)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator)
    rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    half = length // 2
    inside = (
        (rows >= cy - half) & (rows < cy - half + length) & (cols >= cx - half) & (cols < cx - half + length)
    )
    return images * (~inside).to(images.dtype)[:, None].to(images.device)


def _lr(config: FinalConfig, epoch: int, fraction: float = 0.0) -> float:
    """Cosine annealing from ``lr`` (start) towards ``lr_min`` (end of training): per epoch, or
    with ``lr_schedule="step"`` at ``fraction`` (0..1) of the way through ``epoch``."""
    t = epoch + (fraction if config.lr_schedule == "step" else 0.0)
    return config.lr_min + 0.5 * (config.lr - config.lr_min) * (1 + math.cos(math.pi * t / config.epochs))


@torch.no_grad()
def evaluate_accuracy(
    model: Network, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500
) -> float:
    """Top-1 accuracy (fraction) of ``model`` in evaluation mode."""
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    for i in range(0, len(labels), batch_size):
        x = _to_device(images[i : i + batch_size], device)
        with _autocast(device):
            logits, _ = model(x)
        correct += int((logits.argmax(1).cpu() == labels[i : i + batch_size]).sum())
    return correct / max(len(labels), 1)


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cuda":
        return x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    return x.to(device)


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def train_test_split(
    data: Any, folds: int, seed: int, subset: int = 0
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The (images, labels) a seed trains on and the ones it is tested on.

    ``folds == 0``: the dataset's ``train`` + ``policy`` splits, tested on its ``test`` split;
    ``subset > 0`` trains on that many of them only, the same for every seed (a random subset
    drawn with data seed 0, in that random order).
    ``folds >= 2``: k-fold cross-validation over all of the dataset's images -- they are
    partitioned once (data seed 0) into ``folds`` near-equal folds, and seed ``s`` is tested on
    fold ``s % folds`` and trained on the others, so the mean over seeds ``0..folds-1`` is a
    cross-validated accuracy that uses every image once for testing.
    """
    if folds == 0:
        images = torch.cat([data.train.images, data.policy.images])
        labels = torch.cat([data.train.labels, data.policy.labels])
        if subset:
            if subset > len(labels):
                raise ConfigError(
                    f"train_subset: {subset} images asked, the dataset has {len(labels)} to train on"
                )
            keep = torch.from_numpy(np.random.default_rng(0).permutation(len(labels))[:subset])
            images, labels = images[keep], labels[keep]
        return (images, labels), (data.test.images, data.test.labels)
    images = torch.cat([data.train.images, data.policy.images, data.test.images])
    labels = torch.cat([data.train.labels, data.policy.labels, data.test.labels])
    if len(labels) < 2 * folds:
        raise ConfigError(
            f"folds: {folds} folds need at least {2 * folds} images, the dataset has {len(labels)}"
        )
    parts = np.array_split(np.random.default_rng(0).permutation(len(labels)), folds)
    test = torch.from_numpy(parts[seed % folds])
    train = torch.from_numpy(np.sort(np.concatenate([p for i, p in enumerate(parts) if i != seed % folds])))
    return (images[train], labels[train]), (images[test], labels[test])


def train_seed(
    genotype: Genotype,
    config: FinalConfig,
    data: Any,
    seed: int,
    out_dir: str | os.PathLike,
    device: str | torch.device = "auto",
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any] | None:
    """Train one seed (resuming from ``out_dir/checkpoint.pt``) and test it.

    ``data`` is a :class:`natgym.data.Dataset`. Returns the seed's result dict (also written to
    ``out_dir/result.json``); a finished seed is loaded, not retrained. ``stop_after`` ends this
    call after that many epochs (checkpointed) and returns ``None`` -- for time-sliced runs.
    Raises :class:`ConfigError` if ``out_dir`` holds a run with another genotype or config.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, result_path = out / "checkpoint.pt", out / "result.json"
    identity = {"genotype": genotype.to_dict(), "config": config.to_dict(), "seed": seed}
    if result_path.is_file():
        done = read_json(result_path, "out_dir", "delete it to train this seed again")
        _check_identity(done, identity, result_path)
        return done
    if config.image_size is not None and data.image_size != config.image_size:
        raise ConfigError(
            f"image_size: the config trains on {config.image_size} px images, the data has "
            f"{data.image_size} px; load it with image_size={config.image_size}"
        )
    check_writable(ckpt_path, "out_dir")
    rank, world, dev = distributed.setup(device)
    progress = progress and rank == 0
    torch.manual_seed(seed)
    np.random.seed(seed)
    generator = torch.Generator().manual_seed(seed if config.data_seed is None else config.data_seed)
    model = Network(
        genotype,
        config.channels,
        config.layers,
        data.num_classes,
        data.in_channels,
        data.image_size,
        auxiliary=config.auxiliary > 0,
    ).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    forward = model
    if world > 1:  # torchrun: each rank trains on its share of every minibatch, gradients averaged
        from torch.nn.parallel import DistributedDataParallel

        ids = [dev.index] if dev.type == "cuda" else None
        forward = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
    start, history, elapsed = 0, [], 0.0
    if ckpt_path.is_file():
        state = load_checkpoint(
            ckpt_path, "out_dir", "delete it to restart this seed"
        )  # RNG states stay on CPU
        _check_identity(state, identity, ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if dev.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], dev)
        start, history, elapsed = state["epoch"], state["history"], state["elapsed"]

    (x_train, y_train), (x_test, y_test) = train_test_split(data, config.folds, seed, config.train_subset)
    n = len(y_train)
    criterion = nn.CrossEntropyLoss()
    bar = progress_bar(
        range(start, config.epochs),
        initial=start,
        total=config.epochs,
        desc=f"seed {seed}",
        disable=not progress,
        leave=False,
    )
    for epoch in bar:
        t0 = time.perf_counter()
        lr = _lr(config, epoch)
        model.train()
        model.drop_path_prob = config.drop_path * epoch / config.epochs
        perm = torch.randperm(n, generator=generator)
        loss_sum, correct = torch.zeros((), device=dev), torch.zeros((), device=dev, dtype=torch.long)
        for i in range(0, n, config.batch_size):
            for group in optimizer.param_groups:
                group["lr"] = _lr(config, epoch, i / n)
            idx = perm[i : i + config.batch_size]
            x, y = x_train[idx], y_train[idx]
            if config.augment:
                x = data.augment(x, generator)
            x = cutout(x, config.cutout, generator)
            if world > 1:  # augmented as one minibatch, so every rank's random draws stay in step
                x, y = x[rank::world], y[rank::world]
            x, y = _to_device(x, dev), y.to(dev)
            with _autocast(dev):
                logits, aux = forward(x)
                loss = criterion(logits.float(), y)
                if aux is not None:
                    loss = loss + config.auxiliary * criterion(aux.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
        if world > 1:
            import torch.distributed as dist

            dist.all_reduce(loss_sum)
            dist.all_reduce(correct)
        train_loss, train_acc = float(loss_sum) / n, int(correct) / n
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"training: the loss is {train_loss} in epoch {epoch + 1} of seed {seed}; the epoch is not "
                f"saved. The learning rate (lr={config.lr:g}) is likely too high"
            )
        elapsed += time.perf_counter() - t0
        history.append({"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_accuracy": train_acc})
        bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}")
        if rank == 0:
            save_torch(
                ckpt_path,
                {
                    **identity,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                    "history": history,
                    "elapsed": elapsed,
                },
            )
        if stop_after is not None and epoch + 1 - start >= stop_after and epoch + 1 < config.epochs:
            bar.close()
            distributed.barrier()  # every rank returns once rank 0 has written the checkpoint
            return None
    bar.close()
    t0 = time.perf_counter()
    acc = evaluate_accuracy(model, x_test, y_test, config.eval_batch_size)
    elapsed += time.perf_counter() - t0
    result = {
        **identity,
        "test_accuracy": acc,
        "params": count_params(model),
        "wall_time_s": elapsed,
        "device": str(dev),
        "history": history,
    }
    if rank == 0:
        write_json(result_path, result)
    distributed.barrier()  # every rank returns once the result exists
    return result


def load_data(config: FinalConfig, data_root: str | os.PathLike | None = None) -> Any:
    """The dataset ``config`` trains on: its ``dataset`` at its ``image_size``, data seed 0."""
    from natgym.data import load_dataset

    return load_dataset(config.dataset, root=data_root, seed=0, image_size=config.image_size)


_WORKER: dict[str, Any] = {}


def _init_worker(threads: int, config: FinalConfig, data_root: str | None) -> None:
    torch.set_num_threads(threads)
    _WORKER["data"] = load_data(config, data_root)


def _run_in_worker(genotype: Genotype, config: FinalConfig, seed: int, out_dir: str, device: str) -> float:
    result = train_seed(genotype, config, _WORKER["data"], seed, out_dir, device=device, progress=False)
    return result["wall_time_s"]


def train_runs(
    runs: Sequence[tuple[Genotype, int, str | os.PathLike]],
    config: FinalConfig,
    workers: int = 1,
    threads: int = 1,
    data_root: str | os.PathLike | None = None,
    device: str = "auto",
    progress: bool = True,
) -> float:
    """Train many ``(genotype, seed, out_dir)`` runs of one config with :func:`train_seed`.

    Runs whose ``out_dir/result.json`` exists are skipped; the others resume from their
    checkpoints, so a killed batch of runs continues where it stopped. ``workers > 1`` trains
    that many runs at once in spawned processes (safe with CUDA initialised in the parent), each
    with ``threads`` torch threads and its own copy of the dataset. Returns the wall time.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers: expected a positive integer, got {workers!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads: expected a positive integer, got {threads!r}")
    todo = [(g, s, str(d)) for g, s, d in runs if not (Path(d) / "result.json").is_file()]
    t0 = time.perf_counter()
    root = None if data_root is None else os.fspath(data_root)
    bar = progress_bar(total=len(todo), desc="training runs", disable=not (progress and todo))
    if workers == 1:
        previous = torch.get_num_threads()
        _init_worker(threads, config, root)
        try:
            for g, s, d in todo:
                _run_in_worker(g, config, s, d, device)
                bar.update()
        finally:
            torch.set_num_threads(previous)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads, config, root),
        ) as pool:
            futures = [pool.submit(_run_in_worker, g, config, s, d, device) for g, s, d in todo]
            for future in as_completed(futures):
                future.result()
                bar.update()
    bar.close()
    return time.perf_counter() - t0


def _check_identity(stored: dict, identity: dict, path: Path) -> None:
    for key in ("genotype", "config", "seed"):
        have, want = stored.get(key), identity[key]
        if have == want:
            continue
        if key == "config":
            diff = ", ".join(
                f"{k}={have.get(k)!r} (requested {v!r})" for k, v in want.items() if have.get(k) != v
            )
        elif key == "genotype":
            diff = Genotype.parse(have).to_darts()
        else:
            diff = f"{have!r} (requested {want!r})"
        raise ConfigError(
            f"out_dir: {path} holds a run with another {key}: {diff}; use another output folder"
        )


def evaluate(
    genotype: Genotype,
    preset: str = "digits",
    seeds: int | list[int] = 3,
    out_dir: str | os.PathLike = "runs/evaluate",
    data_root: str | os.PathLike | None = None,
    device: str = "auto",
    progress: bool = True,
    data: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train ``genotype`` from scratch for each seed and write ``out_dir/result.json``.

    ``seeds`` is a count (seeds ``0..n-1``) or an explicit list. ``overrides`` replace preset
    fields (e.g. ``epochs=10``). ``data`` (a :class:`natgym.data.Dataset`) skips loading
    ``config.dataset``. Finished seeds are reused and unfinished ones resume. Returns the
    result dict described in the module docstring.
    """
    config = make_config(preset, **overrides)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"seeds: expected a positive count or a list of seeds, got {seeds}")
        seeds = list(range(seeds))
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: expected a non-empty list of distinct seeds, got {seeds}")
    if data is None:
        data = load_data(config, data_root)
    out = Path(out_dir)
    runs = [
        train_seed(genotype, config, data, s, out / f"seed_{s}", device=device, progress=progress)
        for s in seeds
    ]
    accs = [r["test_accuracy"] for r in runs]
    times = [r["wall_time_s"] for r in runs]
    trained = network_cost(
        genotype,
        config.channels,
        config.layers,
        image_size=data.image_size,
        num_classes=data.num_classes,
        in_channels=data.in_channels,
    )
    reference = network_cost(genotype, **CIFAR_REFERENCE)
    result = {
        "genotype": genotype.to_dict(),
        "genotype_text": genotype.to_darts(),
        "preset": preset,
        "config": config.to_dict(),
        "dataset": data.name,
        "device": runs[0]["device"],
        "seeds": seeds,
        "test_accuracy": accs,
        "test_accuracy_mean": float(np.mean(accs)),
        "test_accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
        "params": runs[0]["params"],
        "madds": trained.madds,
        "params_cifar": reference.params,
        "madds_cifar": reference.madds,
        "wall_time_s": times,
        "wall_time_s_total": float(sum(times)),
    }
    write_json(out / "result.json", result)
    return result
