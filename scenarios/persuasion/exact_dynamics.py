"""The exact performative map iterated under a platform, and the stability of its fixed point (spec §5.2–5.3).

Round t: the platform deploys a scheme for the users' current prior μ_t, users best-respond, and

    μ_{t+1} = (1 − η) μ_base + η · post_t,     post_t(θ) ∝ μ_t(θ) P(share | θ; φ_t).

§5.3 sensitivity of the re-solving platform's fixed point μ*: perturb μ* itself (do the dynamics
return?), the fresh content μ_base, or the classifier Q by ‖δ‖∞ = size in the simplex (a random
direction, rows of Q kept stochastic), re-run the dynamics and report where they settle relative to μ*.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from envs.social import SocialGame, performative_update
from scenarios.persuasion.common import optimal_scheme

PERTURBED = ("fixed point μ*", "fresh content μ_base", "classifier Q")


def uninformative_scheme(game: SocialGame) -> np.ndarray:
    """No intervention: the same recommendation for every θ̂, so users act on their prior."""
    return np.ones(game.n_predictions)


def platform_policy(name: str, base: SocialGame, scheme: np.ndarray | None = None
                    ) -> Callable[[SocialGame], np.ndarray]:
    """The platform's scheme as a function of the current game; ``optimal`` deploys ``scheme`` forever."""
    if scheme is not None:  # a stationary scheme (the performative optima)
        return lambda game: scheme
    if name == "resolve":
        return optimal_scheme
    if name == "fixed":
        round0 = optimal_scheme(base)
        return lambda game: round0
    return uninformative_scheme


@dataclass
class Trajectory:
    priors: np.ndarray  # (T + 1, S)
    misinformation: np.ndarray  # (T,) P(share ∧ misinformation) per round
    utility: np.ndarray  # (T,) platform utility per round
    converged_at: int | None  # first t with ‖μ_{t+1} − μ_t‖∞ < tol
    cycle: int | None  # period of a detected cycle when not converged

    def settled(self, values: np.ndarray) -> float:
        """Where a per-round quantity settles: its last value, or its mean over the final cycle."""
        return float(values[-self.cycle:].mean() if self.cycle else values[-1])

    def settled_utility(self) -> float:
        return self.settled(self.utility)

    def describe(self) -> str:
        if self.converged_at is not None:
            return f"converged in {self.converged_at}"
        return f"cycle of period {self.cycle}" if self.cycle else f"no convergence in {len(self.misinformation)}"


def run_dynamics(base: SocialGame, eta: float, platform: str, max_rounds: int, tol: float,
                 start: np.ndarray | None = None, scheme: np.ndarray | None = None) -> Trajectory:
    """Iterate the performative map from `start` (default μ_base) until convergence or max_rounds."""
    policy = platform_policy(platform, base, scheme)
    prior = base.prior if start is None else start
    priors, mis, util, converged = [prior], [], [], None
    for t in range(max_rounds):
        game = base.with_prior(prior)
        out = game.outcomes(policy(game))
        mis.append(out.p_share_and_misinformation)
        util.append(out.platform_utility)
        prior_next, _ = performative_update(prior, base.prior, out.share_given_state, eta)
        priors.append(prior_next)
        if np.max(np.abs(prior_next - prior)) < tol:
            converged = t + 1
            break
        prior = prior_next
    priors_arr = np.array(priors)
    cycle = None if converged is not None else _cycle_period(priors_arr)
    return Trajectory(priors_arr, np.array(mis), np.array(util), converged, cycle)


def _cycle_period(priors: np.ndarray, atol: float = 1e-8) -> int | None:
    for p in range(2, len(priors) // 2):
        if len(priors) > 2 * p and np.all(np.abs(priors[-p:] - priors[-2 * p:-p]) < atol):
            return p
    return None


def perturb(p: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """p + size·d renormalised, d a random direction in the simplex's plane with ‖d‖∞ = 1 (rows if 2-D)."""
    p = np.atleast_2d(np.asarray(p, float))
    direction = rng.normal(size=p.shape)
    direction -= direction.mean(axis=1, keepdims=True)
    moved = np.clip(p + size * direction / np.abs(direction).max(axis=1, keepdims=True), 0.0, None)
    moved /= moved.sum(axis=1, keepdims=True)
    return moved if moved.shape[0] > 1 else moved[0]


def perturbation_test(base: SocialGame, eta: float, fixed_point: np.ndarray, size: float, n: int, max_rounds: int,
                      tol: float, rng: np.random.Generator) -> tuple[float, float]:
    """Restart the re-solving dynamics from `n` perturbed fixed points.

    Returns (fraction that return to within 1e-6 of μ*, largest ‖μ_end − μ*‖∞).
    """
    returned, worst = 0, 0.0
    for _ in range(n):
        end = run_dynamics(base, eta, "resolve", max_rounds, tol, perturb(fixed_point, size, rng)).priors[-1]
        distance = float(np.abs(end - fixed_point).max())
        returned += distance < 1e-6
        worst = max(worst, distance)
    return returned / n, worst


def fixed_point_sensitivity(base: SocialGame, eta: float, stable: Trajectory, sizes: list[float], n: int,
                            max_rounds: int, tol: float, rng: np.random.Generator) -> pd.DataFrame:
    """One row per (perturbed quantity, size δ, draw): did the re-solving dynamics converge, how far from μ*
    did they settle (‖μ_end − μ*‖∞), and how much did the settled misinformation share move."""
    fixed_point, settled = stable.priors[-1], stable.settled(stable.misinformation)
    rows = []
    for size in sizes:
        for draw in range(n):
            for kind in PERTURBED:
                game, start = base, base.prior
                if kind == PERTURBED[0]:
                    start = perturb(fixed_point, size, rng)
                elif kind == PERTURBED[1]:
                    game = base.with_prior(perturb(base.prior, size, rng))
                    start = game.prior
                else:
                    game = base.with_confusion(perturb(base.confusion, size, rng))
                traj = run_dynamics(game, eta, "resolve", max_rounds, tol, start)
                rows.append({"perturbed": kind, "size": size, "draw": draw, "converged": traj.converged_at is not None,
                             "distance": float(np.abs(traj.priors[-1] - fixed_point).max()),
                             "misinformation_change": traj.settled(traj.misinformation) - settled})
    return pd.DataFrame(rows)


def sensitivity_summary(frame: pd.DataFrame) -> list[dict]:
    """Per (perturbed quantity, δ): converged fraction, median and largest distance, largest |Δ mis-share|."""
    rows = []
    for (kind, size), group in frame.groupby(["perturbed", "size"], sort=False):
        rows.append({"perturbed": kind, "δ (‖·‖∞)": size, "converged": f"{group.converged.mean():.2f}",
                     "median ‖μ_end − μ*‖∞": round(float(group.distance.median()), 6),
                     "max ‖μ_end − μ*‖∞": round(float(group.distance.max()), 6),
                     "max |Δ mis-share|": round(float(group.misinformation_change.abs().max()), 4)})
    return rows
