"""Bayesian optimisation over transformations: a BoTorch Gaussian process on a graph-kernel
embedding of the transformed cells, expected improvement over masked-valid candidates.

For one input genotype, a transformation is a target op per edge (and, on NAT-Path-v0, a
source pair per node). Its embedding (:func:`embed`) concatenates

* the one-hot choice of every action dimension (the positional part: two transformations
  differ by the edges and nodes they change), and
* Weisfeiler-Lehman subtree features of both transformed cells (the structural part, as in
  graph-kernel NAS surrogates): node labels start as ``input0 / input1 / node``; each of two
  refinements relabels a node by its label and the sorted (op, source label) pairs of its
  incoming edges; the features are each refined label's count per cell, divided by ``steps``.

The surrogate is ``botorch.models.SingleTaskGP`` with a scaled Matern-5/2 kernel on the whole
vector (one lengthscale: the dimension is too large for one per feature), outcomes
standardised, hyperparameters fitted by maximum marginal likelihood (``fit_gpytorch_mll``).
After ``initial`` uniform random transformations, every round fits the GP on the evaluations
(at most :data:`MAX_TRAIN`: the best half and the most recent others, which keeps a fit near a
second on one CPU thread),
draws ``candidates`` masked-valid transformations -- half uniform
(:func:`~agents.search.random_search.uniform_choice`), half one- or two-dimension mutations
(:func:`~agents.search.evolution.mutate`) of the best eight so far --
drops those already evaluated, and evaluates the ``batch`` with the highest
``LogExpectedImprovement`` (greedy top-q, not a joint q-EI). ``batch`` grows with the data
(``max(batch, evaluated // 8)``) so the number of GP fits stays logarithmic in the budget. A
round whose rewards are all equal, or whose fit fails, proposes uniform random candidates. Only
transformations the rule allows are ever proposed.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import torch

from agents.search.evolution import mutate
from agents.search.problem import SearchResult, TransformProblem, transformed
from agents.search.random_search import uniform_choice
from natgym.checks import positive_int
from natgym.errors import ConfigError
from natgym.genotype import Genotype
from natgym.space import NUM_OPS

MAX_TRAIN = 256
"""Most evaluations the GP is fitted on: the best half and the most recent others."""
ROOTS = ("input0", "input1")
WL_ITERATIONS = 2


def _wl_labels(genotype: Genotype) -> list[str]:
    """The refined WL labels (iterations 1..2) of every intermediate node of both cells."""
    out = []
    for c, cell in enumerate(genotype.cells):
        ops = cell.op_indices
        labels = {0: ROOTS[0], 1: ROOTS[1], **{n: "node" for n in range(2, genotype.steps + 2)}}
        for it in range(WL_ITERATIONS):
            new = dict(labels)
            for node in range(2, genotype.steps + 2):
                incoming = sorted(
                    f"{int(ops[k])}<{labels[src]}"
                    for k, (_, src, dst) in enumerate(cell.edges)
                    if dst == node
                )
                new[node] = f"({labels[node]}|{','.join(incoming)})"
            labels = new
            out.extend(f"{c}:{it}:{labels[n]}" for n in range(2, genotype.steps + 2))
    return out


def embed(genotype: Genotype, actions: np.ndarray, width: int = NUM_OPS) -> np.ndarray:
    """Embeddings (``len(actions) x d``, float64 in [0, 1]) of transformations of ``genotype``:
    the one-hot choice of every action dimension (``width`` choices each: 13 ops, or a
    NAT-Path-v0 source pair) and the WL counts of the transformed cells, whose vocabulary is the
    labels these rows contain (see the module docstring)."""
    actions = np.asarray(actions, dtype=np.int64).reshape(len(actions), -1)
    onehot = np.zeros((len(actions), actions.shape[1] * width))
    rows = np.arange(len(actions))[:, None]
    onehot[rows, np.arange(actions.shape[1]) * width + actions] = 1.0
    labels = [_wl_labels(transformed(genotype, a)) for a in actions]
    vocab = {lab: i for i, lab in enumerate(sorted({lab for row in labels for lab in row}))}
    counts = np.zeros((len(actions), len(vocab)))
    for i, row in enumerate(labels):
        for lab in row:
            counts[i, vocab[lab]] += 1.0
    return np.concatenate([onehot, counts / genotype.steps], axis=1)


def _propose(
    genotype: Genotype, xs: list[np.ndarray], ys: list[float], pool: np.ndarray, q: int, width: int
) -> np.ndarray | None:
    """Indices into ``pool`` of the ``q`` transformations with the highest log-EI
    (:func:`rank_by_ei` on their :func:`embed` features, fitted on at most :data:`MAX_TRAIN`)."""
    if len(xs) > MAX_TRAIN:
        best = np.argsort(ys, kind="stable")[::-1][: MAX_TRAIN // 2]
        rest = np.setdiff1d(np.arange(len(xs)), best)[-(MAX_TRAIN - len(best)) :]
        keep = np.concatenate([best, rest])
        xs, ys = [xs[i] for i in keep], [ys[i] for i in keep]
    feats = torch.from_numpy(embed(genotype, np.concatenate([np.stack(xs), pool]), width))
    return rank_by_ei(feats[: len(xs)], ys, feats[len(xs) :], q)


def rank_by_ei(train_x: torch.Tensor, ys: list[float], cand_x: torch.Tensor, q: int) -> np.ndarray | None:
    """Indices of the ``q`` rows of ``cand_x`` with the highest ``LogExpectedImprovement`` under a
    ``SingleTaskGP`` (scaled Matern-5/2, standardised outcomes, fitted by maximum marginal
    likelihood) on ``(train_x, ys)``; None when it cannot be fitted (all rewards equal, or the
    fit fails)."""
    from botorch.acquisition import LogExpectedImprovement
    from botorch.exceptions import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    if len(set(ys)) < 2:
        return None
    y = torch.tensor(ys, dtype=torch.float64)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BoTorch's notes on input scaling and noise levels
        model = SingleTaskGP(
            train_x, y, covar_module=ScaleKernel(MaternKernel(nu=2.5)), outcome_transform=Standardize(m=1)
        )
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        except ModelFittingError:
            return None
        with torch.no_grad():
            ei = LogExpectedImprovement(model, best_f=y.max())(cand_x[:, None, :])
    return torch.argsort(ei, descending=True)[:q].numpy()


def bayesian_optimization(
    env: gym.Env,
    budget: int,
    seed: int = 0,
    initial: int = 8,
    batch: int = 4,
    candidates: int = 256,
    genotype: Genotype | None = None,
) -> SearchResult:
    """Bayesian optimisation on one input (``genotype`` or the env's first reset) until
    ``budget`` supernet queries are spent; see the module docstring."""
    for name, value in (("initial", initial), ("batch", batch), ("candidates", candidates)):
        positive_int(name, value)
    if candidates < batch:
        raise ConfigError(f"candidates: must be at least batch ({batch}), got {candidates}")
    problem = TransformProblem(env, budget, seed, genotype)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    mask = problem.mask
    xs: list[np.ndarray] = []
    ys: list[float] = []
    seen: set[bytes] = set()

    def evaluate(action: np.ndarray) -> None:
        xs.append(action)
        ys.append(problem.evaluate(action))
        seen.add(action.tobytes())

    while len(xs) < initial and not problem.exhausted:
        evaluate(uniform_choice(mask, rng))
    while not problem.exhausted:
        top = [xs[i] for i in np.argsort(ys)[::-1][:8]]
        pool = [uniform_choice(mask, rng) for _ in range(candidates // 2)]
        while len(pool) < candidates:
            child = mutate(top[int(rng.integers(len(top)))], mask, rng)
            pool.append(mutate(child, mask, rng) if rng.random() < 0.5 else child)
        fresh = list({a.tobytes(): a for a in pool if a.tobytes() not in seen}.values())
        if not fresh:  # everything nearby is evaluated: fall back to uniform samples
            fresh = [uniform_choice(mask, rng)]
        q = max(batch, len(xs) // 8)
        order = _propose(problem.genotype, xs, ys, np.stack(fresh), q, mask.shape[1])
        picks = order if order is not None else rng.permutation(len(fresh))[:q]
        for i in picks:
            if problem.exhausted:
                break
            evaluate(fresh[int(i)])
    return problem.result()
