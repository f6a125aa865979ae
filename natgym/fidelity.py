"""How well does a scorer (a supernet, a cost count, a zero-cost proxy) track real accuracy?

The yardstick is a **ground-truth table** that ships with natgym, one per dataset
(:data:`TABLES`: ``natgym/data_files/ground_truth_<dataset>.json``, built by
``benchmarks/ground_truth.py``): a fixed, seeded set of architectures with 4 intermediate nodes
(the same set for every dataset), each trained stand-alone with the dataset's preset of
:mod:`natgym.final` for several seeds. Every architecture has

* ``family``: ``zoo`` (the zoo's inputs and their published NAT / NAT++ transformations),
  ``uniform`` (inputs from :func:`natgym.zoo.sample`) or ``transformed`` (NAT++ transformations
  of the uniform inputs: random valid ones, pool/skip-heavy ones and ones a NAT agent chose);
* ``parent``: the input a transformation was made from (``None`` for inputs), so the table
  holds (input, transformation) pairs -- the decision the environment's reward pays for;
* ``holdout``: a third of the table, whole groups (an input with its transformations) chosen by
  a fixed seed before any supernet was tuned on it, for final numbers that no tuning saw.

Metrics (:func:`fidelity`), for scores where higher means "more accurate":

* Kendall tau and Spearman rho between scores and mean stand-alone accuracy, over the whole
  table and within each family;
* top-10 % precision: the share of the truly best 10 % that the scorer also puts in its top 10 %;
* on the (input, transformation) pairs: **sign agreement** -- how often the sign of the scorer's
  delta (transformation minus input) equals the sign of the stand-alone delta, over the pairs
  whose stand-alone delta exceeds twice the seed noise (a scorer tie counts as half) -- and the
  Pearson correlation of the deltas over all pairs.

The seed noise is the pooled standard deviation of one run's accuracy over seeds (root mean of
the per-architecture variances, ddof 1). With two seeds per architecture the delta of two
means has the same standard deviation, so "twice the seed noise" is a two-sigma difference.

The instrument's own ceiling (:func:`retest`, :func:`ceiling_tau`): the same metrics with one
training run as the scorer and another seed's run as the truth, averaged over ordered seed
pairs -- the **test-retest** reliability, i.e. what a perfect copy of the stand-alone protocol
would score -- and the highest Kendall tau a scorer can be expected to reach against the mean
of k seeds. That ceiling is computed from ranks, so a few far-off cells cannot carry it: the mean
seed-vs-seed Spearman rho is turned into the correlation r of a Gaussian copula
(r = 2 sin(pi rho / 6)); the mean of k seeds then has reliability r_k = k r / (1 + (k - 1) r)
(Spearman-Brown), a perfect scorer correlates sqrt(r_k) with it, and that is a Kendall tau of
(2 / pi) arcsin(sqrt(r_k)). Two independent k-seed means correlate r_k with each other: the
table's own test-retest tau (:func:`mean_retest_tau`) is (2 / pi) arcsin(r_k). With 4 or more
seeds, :func:`split_half_tau` measures what the formula predicts for k / 2 seeds: the mean of
half the seeds against the mean of the other half.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from natgym.errors import ConfigError
from natgym.genotype import Genotype

FORMAT = "natgym-ground-truth"
VERSION = 1
"""Format name and version of the ground-truth file; :func:`load_table` refuses others."""
FAMILIES: tuple[str, ...] = ("zoo", "uniform", "transformed")
SUBSETS: tuple[str, ...] = ("all", "fit", "holdout")
"""``all`` the whole table, ``holdout`` the held-out third, ``fit`` the other two thirds."""
TABLES: dict[str, str] = {
    "digits": "data_files/ground_truth_digits.json",
    "fashion": "data_files/ground_truth_fashion.json",
}
"""The shipped table of each dataset, relative to the ``natgym`` package."""


@dataclass(frozen=True)
class Arch:
    """One architecture of the table with its stand-alone accuracies (one per seed)."""

    id: str
    family: str
    kind: str
    parent: str | None
    holdout: bool
    genotype: Genotype
    accuracy: tuple[float, ...]
    params: int
    madds: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracy))


@dataclass(frozen=True)
class GroundTruth:
    """The parsed table: the protocol it was trained with, its seeds and its architectures."""

    protocol: dict[str, Any]
    seeds: tuple[int, ...]
    archs: tuple[Arch, ...]
    meta: dict[str, Any]

    @cached_property
    def noise(self) -> float:
        """Pooled seed standard deviation of one run (see the module docstring)."""
        variances = [np.var(a.accuracy, ddof=1) for a in self.archs if len(a.accuracy) > 1]
        return float(np.sqrt(np.mean(variances))) if variances else 0.0

    @cached_property
    def by_id(self) -> dict[str, Arch]:
        return {a.id: a for a in self.archs}

    def subset(self, name: str) -> list[Arch]:
        """The architectures of subset ``name`` (one of :data:`SUBSETS`)."""
        if name not in SUBSETS:
            raise ConfigError(f"subset: unknown subset {name!r}; allowed: {', '.join(SUBSETS)}")
        if name == "all":
            return list(self.archs)
        return [a for a in self.archs if a.holdout == (name == "holdout")]

    def pairs(self, archs: Sequence[Arch]) -> list[tuple[Arch, Arch]]:
        """(input, transformation) pairs with both members in ``archs``."""
        ids = {a.id for a in archs}
        return [(self.by_id[a.parent], a) for a in archs if a.parent is not None and a.parent in ids]


def expected_protocol(preset: str = "digits") -> dict[str, Any]:
    """The protocol a table of ``preset`` must have been trained with: that preset of
    :mod:`natgym.final` as it is now."""
    from natgym.final import make_config

    return {"preset": preset, "config": make_config(preset).to_dict()}


def load_table(path: str | Path | None = None, dataset: str = "digits") -> GroundTruth:
    """Read and check a ground-truth file (default: the table natgym ships for ``dataset``,
    one of :data:`TABLES`).

    Raises :class:`ConfigError` naming the file and the field when the file is not JSON, has
    another format or version, or was trained with another protocol than the current preset
    of :mod:`natgym.final` it names (its numbers would not be comparable).
    """
    if path is None:
        if dataset not in TABLES:
            raise ConfigError(f"dataset: no ground truth for {dataset!r}; allowed: {', '.join(TABLES)}")
        source = resources.files("natgym").joinpath(TABLES[dataset])
        name = f"natgym/{TABLES[dataset]}"
        if not source.is_file():
            raise ConfigError(
                f"table: natgym has no {dataset} ground truth yet ({name}); build it with "
                f"`python benchmarks/ground_truth.py --dataset {dataset}`"
            )
    else:
        source, name = Path(path), str(path)
    try:
        raw = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"table: cannot read ground-truth file {name} ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"table: {name} is not a natgym ground-truth file (format must be {FORMAT!r})")
    if raw.get("version") != VERSION:
        raise ConfigError(
            f"table: {name} has version {raw.get('version')!r}; this natgym reads version {VERSION}"
        )
    from natgym.final import PRESETS

    have = raw.get("protocol")
    preset = have.get("preset") if isinstance(have, dict) else None
    want = expected_protocol(preset if preset in PRESETS else "digits")
    if have != want:
        diff = _protocol_diff(have, want)
        raise ConfigError(
            f"table: {name} was trained with another protocol ({diff}); retrain it with "
            "benchmarks/ground_truth.py or use a natgym version that matches it"
        )
    try:
        archs = tuple(
            Arch(
                id=str(a["id"]),
                family=_member(a["family"], FAMILIES, "family"),
                kind=str(a["kind"]),
                parent=None if a["parent"] is None else str(a["parent"]),
                holdout=bool(a["holdout"]),
                genotype=Genotype.parse(a["genotype"]),
                accuracy=tuple(float(x) for x in a["test_accuracy"]),
                params=int(a["params"]),
                madds=int(a["madds"]),
            )
            for a in raw["architectures"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"table: {name} has a malformed architecture entry ({exc!r})") from None
    ids = {a.id for a in archs}
    if len(ids) != len(archs) or any(a.parent is not None and a.parent not in ids for a in archs):
        raise ConfigError(f"table: {name} has duplicate ids or a parent that is not in the table")
    return GroundTruth(want, tuple(int(s) for s in raw["seeds"]), archs, raw.get("meta", {}))


def _member(value: Any, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise ValueError(f"{field} {value!r} not in {allowed}")
    return str(value)


def _protocol_diff(have: Any, want: dict[str, Any]) -> str:
    if not isinstance(have, dict):
        return f"protocol is {have!r}"
    parts = (
        [f"preset {have.get('preset')!r} (expected {want['preset']!r})"]
        if have.get("preset") != want["preset"]
        else []
    )
    config = have.get("config") if isinstance(have.get("config"), dict) else {}
    parts += [
        f"{k}={config.get(k)!r} (expected {v!r})" for k, v in want["config"].items() if config.get(k) != v
    ]
    return ", ".join(parts) or "unknown fields"


def _check(pred: Any, truth: Any, field: str, minimum: int = 3) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim != 1:
        raise ConfigError(
            f"{field}: expected two 1-d arrays of equal length, got shapes {pred.shape}, {truth.shape}"
        )
    if len(pred) < minimum:
        raise ConfigError(f"{field}: need at least {minimum} items to compare, got {len(pred)}")
    if not (np.isfinite(pred).all() and np.isfinite(truth).all()):
        raise ConfigError(f"{field}: scores must be finite numbers")
    return pred, truth


def kendall_tau(pred: Sequence[float], truth: Sequence[float]) -> float:
    """Kendall's tau-b between two rankings (ties handled; NaN if either is constant)."""
    from scipy.stats import kendalltau

    pred, truth = _check(pred, truth, "kendall_tau")
    return float(kendalltau(pred, truth).statistic)


def spearman_rho(pred: Sequence[float], truth: Sequence[float]) -> float:
    """Spearman's rank correlation (NaN if either ranking is constant)."""
    from scipy.stats import spearmanr

    pred, truth = _check(pred, truth, "spearman_rho")
    if np.ptp(pred) == 0 or np.ptp(truth) == 0:
        return float("nan")
    return float(spearmanr(pred, truth).statistic)


def top_fraction_precision(pred: Sequence[float], truth: Sequence[float], fraction: float = 0.1) -> float:
    """Share of the truly best ``fraction`` of items that are also in the scorer's best
    ``fraction`` (at least one item each; ties broken by position)."""
    pred, truth = _check(pred, truth, "top_fraction_precision")
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    k = max(1, int(round(fraction * len(pred))))
    best_pred = set(np.argsort(-pred, kind="stable")[:k].tolist())
    best_true = set(np.argsort(-truth, kind="stable")[:k].tolist())
    return len(best_pred & best_true) / k


def sign_agreement(
    pred_delta: Sequence[float], true_delta: Sequence[float], threshold: float
) -> tuple[float, int]:
    """Over the pairs with ``|true_delta| > threshold``: the share whose predicted delta has the
    same sign (a predicted delta of exactly 0 counts as half). Returns ``(share, pairs used)``;
    raises :class:`ConfigError` when no pair clears the threshold."""
    pred, truth = _check(pred_delta, true_delta, "sign_agreement", minimum=1)
    if not threshold >= 0:
        raise ConfigError(f"threshold: expected a non-negative number, got {threshold!r}")
    keep = np.abs(truth) > threshold
    if not keep.any():
        raise ConfigError(f"sign_agreement: no pair has a stand-alone delta above {threshold:.4f}")
    agree = np.where(pred[keep] == 0, 0.5, (np.sign(pred[keep]) == np.sign(truth[keep])).astype(float))
    return float(agree.mean()), int(keep.sum())


def fidelity(table: GroundTruth, scores: Mapping[str, float], subset: str = "all") -> dict[str, Any]:
    """All metrics of one scorer (``scores``: architecture id -> score, higher = better) on a
    subset of the table. Families with fewer than 3 members, or no pair above the noise
    threshold, give ``None`` for their metric."""
    archs = table.subset(subset)
    missing = [a.id for a in archs if a.id not in scores]
    if missing:
        raise ConfigError(f"scores: no score for {len(missing)} architectures, e.g. {missing[:3]}")
    return _row(table, archs, scores, {a.id: a.mean for a in archs}, subset)


def _row(
    table: GroundTruth,
    archs: Sequence[Arch],
    scores: Mapping[str, float],
    truth_of: Mapping[str, float],
    subset: str,
) -> dict[str, Any]:
    pred = np.array([scores[a.id] for a in archs], dtype=np.float64)
    truth = np.array([truth_of[a.id] for a in archs], dtype=np.float64)
    out: dict[str, Any] = {
        "subset": subset,
        "n": len(archs),
        "kendall_tau": kendall_tau(pred, truth),
        "spearman_rho": spearman_rho(pred, truth),
        "top10_precision": top_fraction_precision(pred, truth, 0.1),
    }
    for family in FAMILIES:
        idx = [i for i, a in enumerate(archs) if a.family == family]
        out[f"kendall_tau_{family}"] = kendall_tau(pred[idx], truth[idx]) if len(idx) >= 3 else None
    pairs = table.pairs(archs)
    pd = np.array([scores[t.id] - scores[p.id] for p, t in pairs])
    td = np.array([truth_of[t.id] - truth_of[p.id] for p, t in pairs])
    threshold = 2 * table.noise
    out["pairs"] = len(pairs)
    out["sign_threshold"] = threshold
    if len(pairs) and (np.abs(td) > threshold).any():
        out["sign_agreement"], out["sign_pairs"] = sign_agreement(pd, td, threshold)
    else:
        out["sign_agreement"], out["sign_pairs"] = None, 0
    usable = len(pairs) >= 3 and np.ptp(pd) > 0 and np.ptp(td) > 0
    out["delta_pearson"] = float(np.corrcoef(pd, td)[0, 1]) if usable else None
    return out


def retest(table: GroundTruth, subset: str = "all") -> dict[str, Any]:
    """The truth's test-retest row: the :func:`fidelity` metrics of one seed's accuracies as
    the scorer against another seed's as the truth, averaged over every ordered pair of seeds
    (``None`` where a metric is undefined for any pair). Needs at least 2 seeds."""
    archs = table.subset(subset)
    k = min(len(a.accuracy) for a in archs)
    if k < 2:
        raise ConfigError("table: test-retest needs at least 2 seeds per architecture")
    rows = [
        _row(table, archs, {a.id: a.accuracy[i] for a in archs}, {a.id: a.accuracy[j] for a in archs}, subset)
        for i in range(k)
        for j in range(k)
        if i != j
    ]
    out = dict(rows[0])
    for key, value in rows[0].items():
        if isinstance(value, float) or value is None:
            values = [r[key] for r in rows]
            out[key] = None if any(v is None for v in values) else float(np.mean(values))
    out["sign_pairs"] = int(round(np.mean([r["sign_pairs"] for r in rows])))
    return out


def seed_rho(values: np.ndarray) -> float:
    """The mean Spearman rho over the seed pairs of ``values`` (architectures x seeds)."""
    values = np.asarray(values, dtype=np.float64)
    k = values.shape[1]
    if k < 2:
        raise ConfigError("values: the seed-vs-seed correlation needs at least 2 seeds per architecture")
    return float(np.mean([spearman_rho(values[:, i], values[:, j]) for i in range(k) for j in range(i)]))


def spearman_brown_tau(rho: float, k: int, scorer: bool = False) -> float:
    """The Kendall tau expected between the mean of ``k`` seeds and an independent rebuild of
    that mean (``scorer=False``: the mean's test-retest) or a perfect scorer (``scorer=True``:
    the ceiling), from the mean seed-vs-seed Spearman ``rho`` (Gaussian copula and
    Spearman-Brown; see the module docstring)."""
    r = 2 * np.sin(np.pi * rho / 6)
    reliability = min(max(k * r / (1 + (k - 1) * r), 0.0), 1.0)
    return float(2 / np.pi * np.arcsin(np.sqrt(reliability) if scorer else reliability))


def _values(table: GroundTruth, subset: str) -> np.ndarray:
    return np.array([a.accuracy for a in table.subset(subset)], dtype=np.float64)


def ceiling_tau(table: GroundTruth, subset: str = "all") -> float:
    """The highest Kendall tau a scorer can be expected to reach against the mean of the
    table's k seeds (:func:`spearman_brown_tau` with ``scorer=True``)."""
    values = _values(table, subset)
    return spearman_brown_tau(seed_rho(values), values.shape[1], scorer=True)


def split_half_tau(table: GroundTruth, subset: str = "all") -> float:
    """Measured test-retest of a half-table: Kendall tau between the mean of the first
    ``k // 2`` seeds and the mean of the next ``k // 2`` (k seeds; one seed each with 2 or 3)."""
    from scipy.stats import kendalltau

    values = _values(table, subset)
    half = values.shape[1] // 2
    if half < 1:
        raise ConfigError("table: a split-half needs at least 2 seeds per architecture")
    return float(kendalltau(values[:, :half].mean(1), values[:, half : 2 * half].mean(1)).statistic)


def mean_retest_tau(table: GroundTruth, subset: str = "all") -> float:
    """The test-retest Kendall tau of the table's k-seed means: how well an independent rebuild
    with k other seeds would rank the cells like this table (split-half estimate,
    :func:`spearman_brown_tau`)."""
    values = _values(table, subset)
    return spearman_brown_tau(seed_rho(values), values.shape[1])


Scorer = Callable[[list[Genotype]], np.ndarray]


def cost_scorers(table: GroundTruth) -> dict[str, dict[str, float]]:
    """The trivial predictors: parameters and MAdds of the trained stand-alone network."""
    return {
        "params": {a.id: float(a.params) for a in table.archs},
        "MAdds": {a.id: float(a.madds) for a in table.archs},
    }


def naswot_scores(table: GroundTruth, batch: int = 64, seed: int = 0) -> dict[str, float]:
    """NASWOT (:func:`natgym.proxies.naswot`) of every architecture at the table's trained size,
    on the first ``batch`` images of the weight-train split of the table's dataset (at its
    image size)."""
    import torch

    from natgym.final import FinalConfig, load_data
    from natgym.proxies import naswot

    config = table.protocol["config"]
    data = load_data(FinalConfig(**config))
    images = data.train.images[:batch]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {
            a.id: naswot(a.genotype, images, config["channels"], config["layers"], data.num_classes, seed)
            for a in table.archs
        }
    finally:
        torch.set_num_threads(previous)


SCORE_IMAGES = 2000
"""Policy-split images the ``supernet (policy split)`` score uses at most (digits' whole split is
smaller; Fashion-MNIST's 36,000 would take an hour for a table)."""


def supernet_scores(
    table: GroundTruth, evaluator: Any, images: int | None = SCORE_IMAGES
) -> dict[str, dict[str, float]]:
    """A :class:`~natgym.reward.SupernetEvaluator`'s accuracy of every architecture: on the
    first ``images`` images of its policy split (None: all of it), and on the env's reward
    subset (what one env query pays)."""
    genotypes = [a.genotype for a in table.archs]
    whole = evaluator.accuracy_on(genotypes, "policy", images)
    env = evaluator.accuracy(genotypes)
    return {
        "supernet (policy split)": dict(zip([a.id for a in table.archs], map(float, whole))),
        f"supernet (env, {evaluator.batch_size} images)": dict(
            zip([a.id for a in table.archs], map(float, env))
        ),
    }


def summary_line(row: Mapping[str, Any]) -> str:
    """One line: tau, rho, sign agreement (pairs) and top-10 % precision of a :func:`fidelity` row."""
    sign = (
        "n/a" if row["sign_agreement"] is None else f"{row['sign_agreement']:.2f} ({row['sign_pairs']} pairs)"
    )
    return (
        f"Kendall tau {row['kendall_tau']:.2f}, Spearman rho {row['spearman_rho']:.2f}, "
        f"sign agreement {sign}, top-10% precision {row['top10_precision']:.2f} "
        f"({row['n']} architectures, {row['subset']})"
    )


def _halves(table: GroundTruth, subset: str) -> str:
    half = len(table.seeds) // 2
    if half < 2:
        return ""
    tau = split_half_tau(table, subset)
    return f", the mean of {half} seeds like that of {half} others at {tau:.2f} (measured)"


def markdown(rows: Mapping[str, Mapping[str, Any]], table: GroundTruth) -> str:
    """The side-by-side table of :func:`fidelity` rows ``{scorer name: row}``."""

    def f(value: Any) -> str:
        return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:+.2f}"

    first = next(iter(rows.values()))
    subset = first["subset"]
    pairs = table.pairs(table.subset(subset))
    above = sum(abs(t.mean - p.mean) > 2 * table.noise for p, t in pairs)
    lines = [
        f"Ground truth ({table.protocol['config']['dataset']}): {first['n']} architectures ({subset}), "
        f"seeds {list(table.seeds)}, seed noise {100 * table.noise:.2f} points; sign agreement over "
        f"the {above} of {len(pairs)} (input, transformation) pairs whose stand-alone delta exceeds "
        f"{100 * 2 * table.noise:.2f} points (twice the noise).",
        f"The instrument's ceiling: one training run ranks the cells like another seed's run at "
        f"Kendall tau {retest(table, subset)['kendall_tau']:.2f} (test-retest){_halves(table, subset)}; "
        f"the mean of {len(table.seeds)} seeds ranks them like an independent rebuild at about tau "
        f"{mean_retest_tau(table, subset):.2f}, and a scorer can reach about tau "
        f"{ceiling_tau(table, subset):.2f} against it (Spearman-Brown estimates).",
        "",
        "| scorer | Kendall tau | Spearman rho | tau zoo | tau uniform | tau transformed | top-10% precision "
        "| sign agreement (pairs) | delta Pearson |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        sign = "–" if r["sign_agreement"] is None else f"{r['sign_agreement']:.2f} ({r['sign_pairs']})"
        lines.append(
            f"| {name} | {f(r['kendall_tau'])} | {f(r['spearman_rho'])} | {f(r['kendall_tau_zoo'])} "
            f"| {f(r['kendall_tau_uniform'])} | {f(r['kendall_tau_transformed'])} "
            f"| {r['top10_precision']:.2f} | {sign} | {f(r['delta_pearson'])} |"
        )
    return "\n".join(lines) + "\n"
