"""The reward configuration, in one place: :class:`EvaluatorSpec`, and sharing on request.

An :class:`EvaluatorSpec` says which supernet scores architectures (dataset, preset, checkpoint,
seed) and how (device, image-subset mode, co-training, batch sizes). It is frozen and validated
once, when it is made -- every field is checked and ``device`` is resolved to a concrete device
here and nowhere else -- so it is the env's ``reward`` argument, the reward part of a benchmark
configuration, the key under which an :class:`EvaluatorPool` shares evaluators, and the source of
the one command-line argument group every ``natgym`` command that scores architectures uses
(:meth:`EvaluatorSpec.add_arguments`, :meth:`EvaluatorSpec.from_args`).

Sharing is explicit: an env builds its own evaluator from a spec, unless the caller passes an
:class:`EvaluatorPool` (or an evaluator object), in which case every env asking the pool for an
equal spec gets the same evaluator -- one supernet in memory for ``DummyVecEnv`` or ``make_vec``.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from natgym.checks import nonneg_int, positive_int
from natgym.errors import ConfigError

if TYPE_CHECKING:
    from natgym.reward import Evaluator, SupernetEvaluator

MODES: tuple[str, ...] = ("fixed", "minibatch")
"""Image-subset modes: ``fixed`` (the same images every call, deterministic) and ``minibatch``
(a fresh random minibatch every call, the paper's mode)."""

_POSITIVE = ("batch_size", "cotrain_steps", "cotrain_every", "max_genotypes", "threads")


@dataclass(frozen=True)
class EvaluatorSpec:
    """Which supernet scores architectures, and how (see the module docstring).

    * ``dataset`` (``"digits"``): digits, fashion, cifar10, cifar100, synthetic, or your own
      images as ``folder:PATH`` / ``npz:PATH`` (:mod:`natgym.data.user`); ``image_size`` resizes
      a folder's images, and a built-in dataset's default supernet trains and scores at that
      size (default: the supernet preset's, e.g. 14 px for fashion); ``preset`` (None: the
      dataset's own supernet size); ``supernet`` (None): a checkpoint written by ``natgym
      train-supernet`` -- its own dataset and preset are used -- else the default supernet of
      (dataset, preset, seed, steps), trained into the cache on first use.
    * ``steps`` (4): intermediate nodes per cell of the default supernet (5 for ENAS-like
      cells); an env sets it to its own ``steps``, so a 5-node supernet is trained on demand.
    * ``seed`` (0): the default supernet's seed and the seed of the reward image subset.
    * ``device`` (``"auto"``): resolved on creation to ``"cpu"`` or ``"cuda:N"``.
    * ``mode`` (``"fixed"``, see :data:`MODES`), ``batch_size`` (64 images per call; your own
      data with a smaller policy split scores on all of it).
    * ``cotrain`` (False): keep training the supernet while agents query it --
      ``cotrain_steps`` SGD steps per ``cotrain_every`` rewards (2 queries each), so the
      training per env step does not depend on how many envs share the evaluator.
    * ``data_root`` (None): folder with the CIFAR files.
    * ``max_genotypes`` (64) per batched forward, ``threads`` (1) CPU worker threads per call.
    """

    dataset: str = "digits"
    preset: str | None = None
    supernet: str | None = None
    seed: int = 0
    steps: int = 4
    device: str = "auto"
    mode: str = "fixed"
    batch_size: int = 64
    cotrain: bool = False
    cotrain_steps: int = 1
    cotrain_every: int = 1
    data_root: str | None = None
    max_genotypes: int = 64
    threads: int = 1
    image_size: int | None = None

    def __post_init__(self) -> None:
        from natgym.data import dataset_info, parse_user
        from natgym.device import resolve_device
        from natgym.supernet.model import PRESETS

        user = parse_user(self.dataset) if isinstance(self.dataset, str) else None
        if user is not None:
            object.__setattr__(self, "dataset", f"{user[0]}:{user[1].resolve()}")
        else:
            dataset_info(self.dataset)
        if self.image_size is not None:
            positive_int("image_size", self.image_size)
        if self.preset is not None and self.preset not in PRESETS:
            raise ConfigError(
                f"preset: unknown supernet preset {self.preset!r}; allowed: {', '.join(PRESETS)}"
            )
        if self.mode not in MODES:
            raise ConfigError(f"mode: unknown evaluator mode {self.mode!r}; allowed: {', '.join(MODES)}")
        nonneg_int("seed", self.seed)
        positive_int("steps", self.steps)
        for name in _POSITIVE:
            positive_int(name, getattr(self, name))
        if not isinstance(self.cotrain, bool):
            raise ConfigError(f"cotrain: expected True or False, got {self.cotrain!r}")
        for name in ("supernet", "data_root"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise ConfigError(f"{name}: expected a path or None, got {type(value).__name__}")
        if self.supernet is not None:
            path = os.path.abspath(os.fspath(self.supernet))
            if not os.path.isfile(path):
                raise ConfigError(f"supernet: no checkpoint file at {path}")
            object.__setattr__(self, "supernet", path)
        if self.data_root is not None:
            object.__setattr__(self, "data_root", os.fspath(self.data_root))
        object.__setattr__(self, "device", str(resolve_device(self.device)))

    @classmethod
    def of(cls, value: EvaluatorSpec | Mapping[str, Any] | str | os.PathLike | None) -> EvaluatorSpec:
        """A spec from a spec, a mapping of its fields, a checkpoint path, or None (defaults)."""
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        if isinstance(value, (str, os.PathLike)):
            return cls(supernet=os.fspath(value))
        if isinstance(value, Mapping):
            known = [f.name for f in fields(cls)]
            unknown = sorted(set(value) - set(known))
            if unknown:
                raise ConfigError(f"reward: unknown field {unknown[0]!r}; allowed: {', '.join(known)}")
            return cls(**value)
        raise ConfigError(
            "reward: expected an Evaluator, an EvaluatorSpec, a mapping of its fields, a supernet "
            f"checkpoint path or None, got {type(value).__name__}"
        )

    def replace(self, **changes: Any) -> EvaluatorSpec:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)

    @property
    def deterministic(self) -> bool:
        """Whether equal queries always give equal rewards (fixed mode, no co-training)."""
        return self.mode == "fixed" and not self.cotrain

    # ------------------------------------------------------------------ building
    def build(self, progress: bool = True) -> SupernetEvaluator:
        """A new :class:`~natgym.reward.SupernetEvaluator` for this spec.

        Without ``supernet`` the default supernet of (dataset, preset, seed) is loaded from the
        cache (:func:`natgym.supernet.train.cache_dir`), trained first -- with a progress bar --
        if this machine has not trained it yet. A checkpoint's own dataset and preset are used (a
        warning names a different ``dataset``). The data split uses the supernet's training seed,
        so the reward images are never ones it was trained on.
        """
        from natgym.data import load_dataset, source_of
        from natgym.reward import SupernetEvaluator
        from natgym.supernet.train import cached_supernet, default_config, load_supernet, supernet_data

        user = source_of(self.dataset) is not None
        mine = load_dataset(self.dataset, self.data_root, self.seed, self.image_size) if user else None
        if self.supernet is None:
            resize = {"image_size": self.image_size} if self.image_size and not user else {}
            config = default_config(
                self.dataset, self.preset, seed=self.seed, data=mine, steps=self.steps, **resize
            )
            path = cached_supernet(
                config, self.device, data=mine, data_root=self.data_root, progress=progress
            )
        else:
            path = self.supernet
        model, meta = load_supernet(path, self.device)
        config = meta["config"]
        if config.net.steps != self.steps:
            raise ConfigError(
                f"steps: the supernet {path} scores cells with {config.net.steps} intermediate nodes, "
                f"{self.steps} were asked; allowed: {config.net.steps}"
            )
        spec = self
        if user:
            if mine.name != config.dataset:
                raise ConfigError(
                    f"supernet: {path} was trained on {config.dataset!r}, not on the images of "
                    f"{self.dataset} ({mine.name})"
                )
            data = (
                mine
                if config.seed == self.seed
                else load_dataset(self.dataset, self.data_root, config.seed, self.image_size)
            )
            if spec.batch_size > len(data.policy):  # a small folder: score on its whole policy split
                spec = spec.replace(batch_size=len(data.policy))
        else:
            if source_of(config.dataset) is not None:
                raise ConfigError(
                    f"supernet: {path} was trained on your own images ({config.dataset}); pass "
                    "them as dataset (folder:PATH or npz:PATH)"
                )
            if self.supernet is not None and self.dataset != config.dataset:
                warnings.warn(
                    f"dataset: the supernet {path} was trained on {config.dataset!r}; using that "
                    f"instead of {self.dataset!r}",
                    stacklevel=2,
                )
                spec = self.replace(dataset=config.dataset)
            data = supernet_data(config, self.data_root)
        return SupernetEvaluator(model, data, config, spec)

    # ------------------------------------------------------------------ command line
    FLAGS = {
        "dataset": ("--dataset", {"help": "supernet dataset (default %(default)s)"}),
        "preset": ("--preset", {"help": "supernet size preset (default: the dataset's)"}),
        "supernet": ("--supernet", {"metavar": "PATH", "help": "supernet checkpoint to load"}),
        "seed": ("--supernet-seed", {"type": int, "help": "seed of the supernet (default %(default)s)"}),
        "data_root": ("--data-root", {"help": "folder with CIFAR files"}),
        "image_size": ("--image-size", {"type": int, "help": "resample the dataset's images to N x N"}),
        "device": ("--device", {"help": "auto (CUDA when available), cpu, cuda, cuda:N"}),
    }
    """The command-line flag of each spec field the commands expose."""

    @classmethod
    def add_arguments(
        cls, parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None
    ) -> argparse.ArgumentParser:
        """Add the reward flags (all of :attr:`FLAGS`, or the fields in ``only``) to ``parser``."""
        defaults = {f.name: f.default for f in fields(cls)}
        for name, (flag, options) in cls.FLAGS.items():
            if only is None or name in only:
                parser.add_argument(flag, dest=f"reward_{name}", default=defaults[name], **options)
        return parser

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> EvaluatorSpec:
        """The spec of parsed :meth:`add_arguments` flags, with ``overrides``."""
        given = {
            name: getattr(args, f"reward_{name}") for name in cls.FLAGS if hasattr(args, f"reward_{name}")
        }
        return cls(**{**given, **overrides})


class EvaluatorPool:
    """Evaluators shared on request: :meth:`get` builds one per distinct spec and hands the same
    object to everyone asking for an equal spec. Pass one pool to every env that should share a
    supernet (``gym.make(..., pool=pool)``, SB3 ``env_kwargs``); without a pool each env builds
    its own."""

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self._evaluators: dict[EvaluatorSpec, SupernetEvaluator] = {}

    def get(
        self, spec: EvaluatorSpec | Mapping[str, Any] | str | os.PathLike | None = None
    ) -> SupernetEvaluator:
        """The pool's evaluator for ``spec`` (see :meth:`EvaluatorSpec.of`), built on first use."""
        spec = EvaluatorSpec.of(spec)
        if spec not in self._evaluators:
            self._evaluators[spec] = spec.build(self.progress)
        return self._evaluators[spec]

    def __len__(self) -> int:
        return len(self._evaluators)


def resolve_reward(reward: Any = None, pool: EvaluatorPool | None = None, progress: bool = True) -> Evaluator:
    """The evaluator an env scores with: an :class:`~natgym.reward.Evaluator` as given; anything
    :meth:`EvaluatorSpec.of` accepts from ``pool`` if given, else newly built."""
    from natgym.reward import Evaluator

    if isinstance(reward, Evaluator):
        return reward
    spec = EvaluatorSpec.of(reward)
    if pool is not None:
        if not isinstance(pool, EvaluatorPool):
            raise ConfigError(f"pool: expected an EvaluatorPool or None, got {type(pool).__name__}")
        return pool.get(spec)
    return spec.build(progress)
