"""Reward evaluators: how accurate is an architecture, and how much did a transformation gain.

:class:`Evaluator` is the interface the environments use; :class:`FunctionEvaluator` wraps any
Python scoring function (handy for tests and toy problems).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.spec import EvaluatorSpec

if TYPE_CHECKING:
    import torch

    from natgym.data import Dataset, Split
    from natgym.supernet import Supernet
    from natgym.supernet.train import TrainConfig


class Evaluator(ABC):
    """Scores genotypes by accuracy (a fraction in [0, 1]).

    ``queries`` counts genotype accuracies requested, ``evaluations`` those actually computed
    (cache misses) -- budgets in benchmarks are counted in ``queries``.
    """

    deterministic: bool = True

    def __init__(self) -> None:
        self.queries = 0
        self.evaluations = 0

    @abstractmethod
    def accuracy(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Accuracy of each genotype (float64 array, same order), all on the same images."""

    def reward(self, before: Sequence[Genotype], after: Sequence[Genotype]) -> np.ndarray:
        """``accuracy(after) - accuracy(before)`` pairwise, both measured in one call on the
        same images."""
        before, after = list(before), list(after)
        if len(before) != len(after):
            raise ValueError(f"after: expected {len(before)} genotypes (one per input), got {len(after)}")
        acc = self.accuracy(before + after)
        return acc[len(before) :] - acc[: len(before)]

    @property
    def elastic(self) -> bool:
        """Whether :meth:`depth_accuracy` scores stage depths (an elastic-depth evaluator)."""
        return False

    def depth_accuracy(self, genotype: Genotype, depths: Sequence[Sequence[int]]) -> np.ndarray:
        """Accuracy of ``genotype`` at each stage-depth triple of ``depths`` (``NAT-Depth-v0``).
        Only elastic-depth evaluators (:attr:`elastic`) have one."""
        raise ConfigError(
            f"reward: {type(self).__name__} scores cells at one fixed depth; NAT-Depth-v0 needs an "
            "elastic-depth supernet (reward={'dataset': 'fashion', 'preset': 'fashion-depth'}) or a "
            "FunctionEvaluator with a depth_fn"
        )

    def describe(self) -> dict[str, Any]:
        """What this evaluator pays rewards with, as plain values (for ``env.unwrapped.reward_spec``
        and stored results)."""
        return {"evaluator": type(self).__name__, "deterministic": self.deterministic}


class FunctionEvaluator(Evaluator):
    """An evaluator backed by a function ``genotype -> accuracy`` (and, for
    :meth:`depth_accuracy`, ``depth_fn(genotype, depths) -> accuracy``)."""

    def __init__(
        self,
        fn: Callable[[Genotype], float],
        depth_fn: Callable[[Genotype, tuple[int, ...]], float] | None = None,
    ) -> None:
        super().__init__()
        self.fn, self.depth_fn = fn, depth_fn

    @property
    def elastic(self) -> bool:
        return self.depth_fn is not None

    def depth_accuracy(self, genotype: Genotype, depths: Sequence[Sequence[int]]) -> np.ndarray:
        if self.depth_fn is None:
            return super().depth_accuracy(genotype, depths)
        depths = [tuple(int(d) for d in triple) for triple in depths]
        self.queries += len(depths)
        self.evaluations += len(depths)
        return np.array([float(self.depth_fn(genotype, d)) for d in depths], dtype=np.float64)

    def accuracy(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        genotypes = list(genotypes)
        self.queries += len(genotypes)
        self.evaluations += len(genotypes)
        return np.array([float(self.fn(g)) for g in genotypes], dtype=np.float64)


class SupernetEvaluator(Evaluator):
    """Top-1 accuracy of genotypes according to a weight-sharing supernet, on reward-split images.

    * ``mode="fixed"`` (default, deterministic): every call scores on the same ``batch_size``
      images of the policy (reward) split, chosen once from ``seed``. ``mode="minibatch"`` (the
      paper's mode): each call draws a fresh random minibatch. Either way all genotypes of one call
      -- so the before/after pair of :meth:`reward` -- are scored on the same images.
    * The reward split lives on the device; all genotypes of a call run in one batched forward
      (at most ``max_genotypes`` at a time) under inference mode: on CPU the functional NHWC
      forward :func:`natgym.supernet.fast.infer` (same results up to float rounding, about 1.5x
      faster on these tiny tensors), on CUDA the module forward, channels-last with bf16 autocast.
      Identical genotypes in a call are computed once. ``threads > 1`` splits a CPU call with
      several genotypes over that many worker threads (torch releases the GIL in its kernels);
      it pays off on otherwise idle cores with ``torch.set_num_threads(1)``.
    * Accuracies are cached by (genotype, supernet ``version``, image subset); in minibatch mode
      a subset is never reused, so only repeats within a call hit.
    * :meth:`train_weights` trains w for some SGD steps on uniformly sampled architectures
      (the paper's alternation) and bumps ``version``, so stale cache entries are never reused.
      With ``cotrain=True`` the evaluator does this by itself: ``cotrain_steps`` steps for every
      ``cotrain_every`` rewards it has scored (``2 * cotrain_every`` queries), counted over all
      callers, so one vector env of N and N separate envs train the supernet equally often. (A
      trainer that calls :meth:`train_weights` itself should leave ``cotrain`` off.)

    The configuration is an :class:`~natgym.spec.EvaluatorSpec` (``spec``, default: the
    defaults for ``data``'s dataset); keyword ``options`` replace spec fields (``mode``,
    ``batch_size``, ``device``, ``seed``, ...), validated there.

    ``deterministic`` is true only in fixed mode without co-training; ``calls`` counts calls to
    :meth:`accuracy`. ``steps`` is the number of
    intermediate nodes per cell the supernet supports; ``dataset`` the dataset's name.
    """

    def __init__(
        self,
        model: Supernet,
        data: Dataset,
        train_config: TrainConfig | None = None,
        spec: EvaluatorSpec | None = None,
        cache_size: int = 200_000,
        **options: Any,
    ) -> None:
        super().__init__()
        import torch

        from natgym.data import DATASETS
        from natgym.supernet.train import default_config

        if spec is None:  # a built-in dataset's own defaults; your own data keeps the default spec
            spec = EvaluatorSpec(dataset=data.name) if data.name in DATASETS else EvaluatorSpec()
        spec = spec.replace(**options) if options else spec
        if spec.batch_size > len(data.policy):
            raise ConfigError(
                f"batch_size: {spec.batch_size} is more than the {len(data.policy)} images of the "
                "policy split"
            )
        self.spec = spec
        self.device = torch.device(spec.device)
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()
        self.data = data
        self.dataset = data.name
        self.steps = model.config.steps
        self.train_config = train_config or default_config(data.name, data=data)
        self.mode, self.batch_size, self.seed = spec.mode, spec.batch_size, spec.seed
        self.cotrain, self.cotrain_steps, self.cotrain_every = (
            spec.cotrain,
            spec.cotrain_steps,
            spec.cotrain_every,
        )
        self.max_genotypes, self.cache_size, self.threads = spec.max_genotypes, cache_size, spec.threads
        self._pool: Any = None
        self.deterministic = spec.deterministic
        self.version = 0
        self.calls = 0
        self._pending = 0  # queries since the last co-training block
        self._cache: dict[tuple, float] = {}
        self._trainer = None
        self._images = self._to_device(data.policy.images)
        self._labels = data.policy.labels.to(self.device)
        self._generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(data.policy), generator=torch.Generator().manual_seed(self.seed))
        self._fixed = order[: self.batch_size].to(self.device)
        self._fixed_images, self._fixed_labels = self._images[self._fixed], self._labels[self._fixed]

    # ------------------------------------------------------------------ scoring
    def accuracy(self, genotypes: Sequence[Genotype]) -> np.ndarray:
        """Accuracy of each genotype on this call's images (float64 array, same order)."""
        genotypes = self.model.check(genotypes)
        self.queries += len(genotypes)
        out = self._cached([(g, None) for g in genotypes])
        self.calls += 1
        if self.cotrain:
            blocks, self._pending = divmod(self._pending + len(genotypes), 2 * self.cotrain_every)
            if blocks:
                self.train_weights(blocks * self.cotrain_steps)
        return out

    @property
    def elastic(self) -> bool:
        """Whether the supernet was trained with ``elastic_depth`` (sampled stage depths)."""
        return self.train_config.elastic_depth

    def depth_accuracy(self, genotype: Genotype, depths: Sequence[Sequence[int]]) -> np.ndarray:
        """Accuracy of ``genotype`` at each stage-depth triple of ``depths`` (elastic depth:
        :meth:`natgym.supernet.model.Supernet.active`), on this call's images like
        :meth:`accuracy` (the fixed reward images, or one fresh minibatch for all) and cached
        the same way. Meaningful on a supernet trained with ``elastic_depth``."""
        (genotype,) = self.model.check([genotype])
        depths = [tuple(int(d) for d in triple) for triple in depths]
        for triple in depths:
            self.model.active(triple)  # a clear error for depths outside the supernet
        self.queries += len(depths)
        out = self._cached([(genotype, triple) for triple in depths])
        self.calls += 1
        return out

    def _cached(self, items: list[tuple[Genotype, tuple[int, ...] | None]]) -> np.ndarray:
        """Accuracies of ``(genotype, depths)`` items on one call's images, from the cache where
        scored before on the same (fixed) images and weights."""
        if self.mode == "fixed":
            subset, images, labels = (
                ("fixed", self.seed, self.batch_size),
                self._fixed_images,
                self._fixed_labels,
            )
        else:
            import torch

            subset = None
            index = torch.randperm(len(self._labels), generator=self._generator)[: self.batch_size]
            index = index.to(self.device)
            images, labels = self._images[index], self._labels[index]
        out = np.empty(len(items), dtype=np.float64)
        todo: dict[tuple[Genotype, tuple[int, ...] | None], list[int]] = {}
        for i, (genotype, depths) in enumerate(items):
            hit = self._cache.get((genotype, depths, self.version, subset)) if subset is not None else None
            if hit is None:
                todo.setdefault((genotype, depths), []).append(i)
            else:
                out[i] = hit
        by_depth: dict[tuple[int, ...] | None, list[Genotype]] = {}
        for genotype, depths in todo:
            by_depth.setdefault(depths, []).append(genotype)
        for depths, unique in by_depth.items():
            acc = self._score(unique, images, labels, depths)
            self.evaluations += len(unique)
            for genotype, value in zip(unique, acc):
                out[todo[(genotype, depths)]] = value
                if subset is not None:
                    self._cache[(genotype, depths, self.version, subset)] = float(value)
        if len(self._cache) > self.cache_size:
            for key in list(self._cache)[: len(self._cache) // 2]:
                del self._cache[key]
        return out

    def describe(self) -> dict[str, Any]:
        """The reward's identity: dataset (a user dataset by its content name), supernet preset,
        version and configuration hash, cell size, image size, and the reward images' mode,
        count and seed."""
        from natgym.supernet.train import SUPERNET_VERSION

        config = self.train_config
        return {
            **super().describe(),
            "dataset": self.dataset,
            "supernet": self.spec.supernet or "default",
            "supernet_version": SUPERNET_VERSION if self.spec.supernet is None else "checkpoint",
            "supernet_preset": config.preset,
            "supernet_key": config.key(),
            "steps": self.steps,
            "image_size": self.data.image_size,
            "mode": self.mode,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "cotrain": self.cotrain,
        }

    def accuracy_on(
        self, genotypes: Sequence[Genotype], split: str = "policy", limit: int | None = None
    ) -> np.ndarray:
        """Accuracy averaged over a whole split (``train``, ``policy`` or ``test``) -- or its
        first ``limit`` images (the split's order is already a seeded shuffle) -- scored in
        consecutive batches of ``batch_size`` images (the last one may be smaller). Not cached and
        not counted in ``queries``."""
        if split not in ("train", "policy", "test"):
            raise ConfigError(f"split: unknown split {split!r}; allowed: train, policy, test")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"limit: expected a positive number of images or None, got {limit!r}")
        genotypes = self.model.check(genotypes)
        part: Split = getattr(self.data, split)
        images, labels = self._to_device(part.images[:limit]), part.labels[:limit].to(self.device)
        correct = np.zeros(len(genotypes))
        for start in range(0, len(labels), self.batch_size):
            stop = min(start + self.batch_size, len(labels))
            correct += self._score(genotypes, images[start:stop], labels[start:stop]) * (stop - start)
        return correct / len(labels)

    def _score(
        self,
        genotypes: list[Genotype],
        images: torch.Tensor,
        labels: torch.Tensor,
        depths: tuple[int, ...] | None = None,
    ) -> np.ndarray:
        import torch

        from natgym.supernet.fast import infer

        cuda = self.device.type == "cuda"
        forward = self.model if cuda else partial(infer, self.model)

        def run(chunk: list[Genotype]) -> torch.Tensor:
            parts = []
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                for start in range(0, len(chunk), self.max_genotypes):
                    logits = forward(images, chunk[start : start + self.max_genotypes], depths)
                    parts.append((logits.argmax(-1) == labels).float().mean(-1))
            return torch.cat(parts)

        workers = 1 if cuda else min(self.threads, len(genotypes))
        if workers == 1:
            return run(genotypes).double().cpu().numpy()
        # genotype i and i + G/2 (a reward's before and after) go to the same worker
        half = (len(genotypes) + 1) // 2
        owner = [(i % half) * workers // half for i in range(len(genotypes))]
        where = [[i for i, o in enumerate(owner) if o == w] for w in range(workers)]
        where = [ids for ids in where if ids]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="natgym-eval")
        out = np.empty(len(genotypes))
        for ids, acc in zip(where, self._pool.map(run, [[genotypes[i] for i in ids] for ids in where])):
            out[ids] = acc.double().cpu().numpy()
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None  # threads do not pickle; a copy starts its own
        return state

    def _to_device(self, images: torch.Tensor) -> torch.Tensor:
        import torch

        return images.to(self.device).contiguous(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ co-training
    def train_weights(self, steps: int) -> None:
        """Train the supernet weights for ``steps`` SGD steps (uniformly sampled architectures,
        the supernet's training configuration) and bump ``version``, invalidating the cache."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ConfigError(f"steps: expected a non-negative integer, got {steps!r}")
        trainer = self._get_trainer()
        for _ in range(steps):
            trainer.step()
        self.model.eval()
        if steps:
            self.version += 1
            self._cache.clear()

    def _get_trainer(self) -> Any:
        if self._trainer is None:
            from natgym.supernet.train import Trainer

            self._trainer = Trainer(self.model, self.data, self.train_config, self.device)
            self._trainer.reseed(self.train_config.epochs + self.seed)
        return self._trainer

    def state_dict(self) -> dict[str, Any]:
        """Everything that changes while co-training (weights, optimiser, version, random state),
        as a copy."""
        import copy

        trainer = self._get_trainer()
        return {
            "trainer": copy.deepcopy(trainer.state()),
            "trainer_generator": trainer.generator.get_state(),
            "trainer_rng": trainer.rng.bit_generator.state,
            "version": self.version,
            "calls": self.calls,
            "pending": self._pending,
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        trainer = self._get_trainer()
        trainer.load_state(state["trainer"])
        trainer.generator.set_state(state["trainer_generator"])
        trainer.rng.bit_generator.state = state["trainer_rng"]
        self.version, self.calls = state["version"], state["calls"]
        self._pending = state.get("pending", 0)
        self._generator.set_state(state["generator"])
        self._cache.clear()
        self.model.eval()


def ranking_check(
    evaluator: SupernetEvaluator, samples: int = 20, repeats: int = 10, seed: int = 0
) -> dict[str, float]:
    """How sensibly a supernet ranks architectures, on the evaluator's policy split.

    Scores, averaged over the whole split: the all-null cell pair, all-``conv_3x3`` cells (on the
    topologies of the first 5 samples) and ``samples`` uniformly sampled architectures. The
    evaluation noise is the standard deviation of one architecture's accuracy over ``repeats``
    random minibatches of ``batch_size`` images (averaged over the sampled architectures): the
    noise of one paper-mode reward query. Returns ``null``, ``conv``, ``random_mean``,
    ``random_std``, ``random_min``, ``random_max``, ``noise_std`` and ``spread_over_noise``
    (``random_std / noise_std``).
    """
    import torch

    from natgym import zoo

    rng = np.random.default_rng(seed)
    randoms = [zoo.sample(rng, evaluator.steps) for _ in range(samples)]
    edges = 2 * evaluator.steps
    null = randoms[0].with_ops(["null"] * edges, ["null"] * edges)
    convs = [g.with_ops(["conv_3x3"] * edges, ["conv_3x3"] * edges) for g in randoms[:5]]
    full = evaluator.accuracy_on([null, *convs, *randoms])
    rand = full[1 + len(convs) :]
    images = evaluator._to_device(evaluator.data.policy.images)
    labels = evaluator.data.policy.labels.to(evaluator.device)
    generator = torch.Generator().manual_seed(seed)
    draws = []
    for _ in range(repeats):
        index = torch.randperm(len(labels), generator=generator)[: evaluator.batch_size].to(evaluator.device)
        draws.append(evaluator._score(randoms, images[index], labels[index]))
    noise = float(np.mean(np.std(np.array(draws), axis=0)))
    return {
        "null": float(full[0]),
        "conv": float(np.mean(full[1 : 1 + len(convs)])),
        "random_mean": float(rand.mean()),
        "random_std": float(rand.std()),
        "random_min": float(rand.min()),
        "random_max": float(rand.max()),
        "noise_std": noise,
        "spread_over_noise": float(rand.std() / noise) if noise > 0 else float("inf"),
    }
