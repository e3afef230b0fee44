"""Posterior problems (box prior, log-likelihood, reference ln Z) and the metered query env."""

from envs.inference.problems import (
    PROBLEMS,
    Funnel,
    GaussianBox,
    GaussianMixture,
    GaussianShells,
    PosteriorProblem,
    Rosenbrock,
    RotatedGaussian,
    grid_mixture,
    make_problem,
    two_mode_mixture,
)
from envs.inference.query_env import LOG_L_FLOOR, BudgetExhausted, LikelihoodMeter, PosteriorQueryEnv

__all__ = [
    "LOG_L_FLOOR",
    "PROBLEMS",
    "BudgetExhausted",
    "Funnel",
    "GaussianBox",
    "GaussianMixture",
    "GaussianShells",
    "LikelihoodMeter",
    "PosteriorProblem",
    "PosteriorQueryEnv",
    "Rosenbrock",
    "RotatedGaussian",
    "grid_mixture",
    "make_problem",
    "two_mode_mixture",
]
