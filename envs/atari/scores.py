"""Human-normalised scores on Atari 100k and their aggregates with stratified-bootstrap CIs (Agarwal et al. 2021).

    HNS = (score − random) / (human − random)

Aggregates over a (runs × games) matrix of normalised scores, as ``rliable`` defines them:

- mean   = mean over all runs and games;
- median = median over games of the per-game mean;
- IQM    = mean of the middle 50 % of all runs × games (``scipy.stats.trim_mean(·, 0.25)``);
- optimality gap = E[max(0, 1 − HNS)] = 1 − mean(min(HNS, 1));
- 95 % CIs: stratified bootstrap (each game's runs resampled with replacement, independently), percentile
  interval; superhuman count = #games whose mean HNS ≥ 1.

Random / human scores: IRIS ``RANDOM.json`` / ``HUMAN.json`` (spec §4.1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

# game: (random, human)
REFERENCE_SCORES: dict[str, tuple[float, float]] = {
    "Alien": (227.8, 7127.7), "Amidar": (5.8, 1719.5), "Assault": (222.4, 742.0), "Asterix": (210.0, 8503.3),
    "BankHeist": (14.2, 753.1), "BattleZone": (2360.0, 37187.5), "Boxing": (0.1, 12.1), "Breakout": (1.7, 30.5),
    "ChopperCommand": (811.0, 7387.8), "CrazyClimber": (10780.5, 35829.4), "DemonAttack": (152.1, 1971.0),
    "Freeway": (0.0, 29.6), "Frostbite": (65.2, 4334.7), "Gopher": (257.6, 2412.5), "Hero": (1027.0, 30826.4),
    "Jamesbond": (29.0, 302.8), "Kangaroo": (52.0, 3035.0), "Krull": (1598.0, 2665.5),
    "KungFuMaster": (258.5, 22736.3), "MsPacman": (307.3, 6951.6), "Pong": (-20.7, 14.6),
    "PrivateEye": (24.9, 69571.3), "Qbert": (163.9, 13455.0), "RoadRunner": (11.5, 7845.0),
    "Seaquest": (68.4, 42054.7), "UpNDown": (533.4, 11693.2),
}


def human_normalized(score: float | np.ndarray, game: str) -> np.ndarray:
    """(score − random) / (human − random) for one of the 26 Atari 100k games."""
    if game not in REFERENCE_SCORES:
        raise ValueError(f"no random/human scores for '{game}'; known games: {', '.join(REFERENCE_SCORES)}")
    random, human = REFERENCE_SCORES[game]
    return (np.asarray(score, dtype=float) - random) / (human - random)


def mean_score(hns: np.ndarray) -> float:
    return float(np.mean(hns))


def median_score(hns: np.ndarray) -> float:
    return float(np.median(np.mean(hns, axis=0)))


def iqm(hns: np.ndarray) -> float:
    return float(stats.trim_mean(np.asarray(hns, dtype=float).ravel(), 0.25))


def optimality_gap(hns: np.ndarray, target: float = 1.0) -> float:
    return float(target - np.mean(np.minimum(hns, target)))


AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": mean_score, "median": median_score, "iqm": iqm, "optimality_gap": optimality_gap}


def stratified_bootstrap_ci(hns: np.ndarray, statistic: Callable[[np.ndarray], float], reps: int = 2000,
                            confidence: float = 0.95, rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile CI of `statistic` over `reps` resamples; each game's runs (column) resampled independently."""
    hns = np.asarray(hns, dtype=float)
    runs, games = hns.shape
    rng = rng if rng is not None else np.random.default_rng(0)
    rows = rng.integers(0, runs, size=(reps, runs, games))  # per replicate, per game: which runs
    samples = hns[rows, np.arange(games)[None, None, :]]
    values = np.array([statistic(s) for s in samples])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def aggregate_hns(scores: Mapping[str, np.ndarray | list[float]], reps: int = 2000,
                  rng: np.random.Generator | None = None) -> dict[str, float]:
    """Raw returns per game (one entry per run) → HNS aggregates with 95 % CIs and the superhuman count.

    Every game needs the same number of runs (the stratified bootstrap resamples runs within a game).
    """
    runs = {len(v) for v in scores.values()}
    if len(runs) != 1 or 0 in runs:
        raise ValueError(f"every game needs the same, non-zero number of runs; got {sorted(runs)}")
    hns = np.stack([human_normalized(np.asarray(v, dtype=float), g) for g, v in scores.items()], axis=1)
    out: dict[str, float] = {}
    for name, fn in AGGREGATES.items():
        out[name] = fn(hns)
        out[f"{name}_low"], out[f"{name}_high"] = stratified_bootstrap_ci(hns, fn, reps, rng=rng)
    out["superhuman"] = float(np.sum(hns.mean(axis=0) >= 1.0))
    return out
