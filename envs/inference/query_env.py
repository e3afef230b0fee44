"""The likelihood as a metered world: every sampler queries it through the same counter and budget.

:class:`LikelihoodMeter` wraps a :class:`~envs.inference.problems.PosteriorProblem` and counts
likelihood values and gradients separately (a reverse-mode gradient costs more than a value, so the
two are reported apart, spec §3/§13). Samplers plug into it directly: GGNS takes
``meter.log_likelihood`` (torch; gradient rows are counted by an autograd hook), dynesty takes the
same function on NumPy points. :class:`PosteriorQueryEnv` is the Gymnasium face of the meter.

>>> import gymnasium, envs
>>> env = gymnasium.make("recast/PosteriorQuery-v0", problem="shells", dim=4, batch_size=8, budget=1000)
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

from envs.inference.problems import PosteriorProblem, make_problem

LOG_L_FLOOR = -1e300  # what an observation shows for ln L = −∞ (observations must be finite)
OBS_BOUND = 1e300  # observation values are clipped to [−OBS_BOUND, OBS_BOUND]


class BudgetExhausted(RuntimeError):
    """Raised when a query would take the meter past its evaluation budget."""


class LikelihoodMeter:
    """Counts the evaluations of a problem's log-likelihood: values and gradients, per point.

    Args:
        problem: the posterior problem.
        budget: the most likelihood + gradient evaluations allowed (None: unlimited). A query that
            would exceed it raises :class:`BudgetExhausted` before evaluating anything.
    """

    def __init__(self, problem: PosteriorProblem, budget: int | None = None):
        self.problem = problem
        self.budget = budget
        self.reset()

    def reset(self) -> None:
        self.n_likelihood = 0
        self.n_gradient = 0

    @property
    def n_total(self) -> int:
        return self.n_likelihood + self.n_gradient

    @property
    def remaining(self) -> float:
        return float("inf") if self.budget is None else self.budget - self.n_total

    def _charge(self, n_like: int, n_grad: int) -> None:
        if n_like + n_grad > self.remaining:
            raise BudgetExhausted(
                f"evaluation budget of {self.budget} exhausted ({self.n_likelihood} likelihood + "
                f"{self.n_gradient} gradient evaluations used; {n_like + n_grad} more requested)")
        self.n_likelihood += n_like
        self.n_gradient += n_grad

    def log_likelihood(self, x: Any) -> Any:
        """ln L at physical points: torch (n, d) → (n,) differentiable, NumPy (n, d) → (n,), NumPy (d,) → float.

        Each row costs one likelihood evaluation; when torch later back-propagates to `x`, each row
        costs one gradient evaluation too (counted by a hook on `x`).
        """
        if isinstance(x, torch.Tensor):
            self._charge(x.shape[0], 0)
            if x.requires_grad:
                x.register_hook(self._gradient_hook)
            return self.problem.log_likelihood(x)
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            self._charge(1, 0)
            return float(self.problem.log_likelihood(x[None])[0])
        self._charge(x.shape[0], 0)
        return self.problem.log_likelihood(x)

    def _gradient_hook(self, grad: torch.Tensor) -> None:
        self._charge(0, grad.shape[0])

    def query(self, u: np.ndarray, gradient: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """ln L(T(u)) and ∇_u ln L(T(u)) at unit-cube points u (n, d), T the prior transform."""
        ut = torch.as_tensor(np.asarray(u, dtype=np.float64)).requires_grad_(gradient)
        with torch.set_grad_enabled(gradient):
            logl = self.log_likelihood(self.problem.prior_transform(ut))
            grad = torch.autograd.grad(logl.sum(), ut)[0].numpy() if gradient else None
        return logl.detach().numpy(), grad


class PosteriorQueryEnv(gymnasium.Env[dict, np.ndarray]):
    """A sampler queries a posterior problem's likelihood in batches, under an evaluation budget.

    ## Description
    The world is a posterior problem on the unit cube (its prior transform maps u ∈ [0, 1]^d to the
    physical box). Each step the agent submits a batch of points and observes their log-likelihoods
    and gradients; the meter charges one likelihood (and one gradient) evaluation per point. The
    agent's final product (an evidence estimate, posterior samples) is scored by the scenario against
    ``info["log_z"]``; the per-step reward is the cost, so the return is −(fraction of budget used).

    ## Action Space
    ``Box(0, 1, shape=(batch_size, dim), float64)``: points in the unit cube (clipped to it).

    ## Observation Space
    ``Dict`` (values clipped to ±``OBS_BOUND``): ``log_likelihood`` (batch_size,) float64, ln L per point (``LOG_L_FLOOR`` for ln L = −∞
    and for points past the budget); ``gradient`` (batch_size, dim) float64, ∇_u ln L (zeros when
    ``gradients=False``, non-finite, or past the budget); ``budget_left`` (1,) float32 in [0, 1].

    ## Rewards
    −(evaluations charged this step) / budget.

    ## Starting State
    Nothing evaluated: log-likelihoods at the floor, zero gradients, the full budget.

    ## Episode End
    Never terminated; truncated when the budget is spent (points beyond it are not evaluated).

    ## Arguments
    ``problem`` (name in ``envs.inference.PROBLEMS``), ``dim``, ``batch_size``, ``budget``
    (likelihood + gradient evaluations), ``gradients`` (observe gradients; each costs one evaluation).

    ## Version History
    v0: initial version.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium's convention)

    def __init__(self, problem: str = "gaussian", dim: int = 2, batch_size: int = 32, budget: int = 100_000,
                 gradients: bool = True, render_mode: str | None = None, **problem_kwargs: Any):
        if batch_size < 1 or budget < 1:
            raise ValueError(f"batch_size and budget must be >= 1, got {batch_size}, {budget}")
        self.problem = make_problem(problem, dim, **problem_kwargs)
        self.dim, self.batch_size, self.gradients = int(dim), int(batch_size), bool(gradients)
        self.meter = LikelihoodMeter(self.problem, budget)
        self.render_mode = render_mode
        self.action_space = spaces.Box(0.0, 1.0, shape=(self.batch_size, self.dim), dtype=np.float64)
        self.observation_space = spaces.Dict({
            "log_likelihood": spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(self.batch_size,), dtype=np.float64),
            "gradient": spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(self.batch_size, self.dim), dtype=np.float64),
            "budget_left": spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
        })

    def _obs(self, logl: np.ndarray, grad: np.ndarray) -> dict[str, np.ndarray]:
        left = max(self.meter.remaining, 0) / self.meter.budget
        return {"log_likelihood": logl, "gradient": grad, "budget_left": np.array([left], dtype=np.float32)}

    def _info(self) -> dict[str, Any]:
        return {"log_z": self.problem.log_z, "n_likelihood_evals": self.meter.n_likelihood,
                "n_gradient_evals": self.meter.n_gradient}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.meter.reset()
        empty = np.full(self.batch_size, LOG_L_FLOOR), np.zeros((self.batch_size, self.dim))
        return self._obs(*empty), self._info()

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        u = np.clip(np.asarray(action, dtype=np.float64).reshape(self.batch_size, self.dim), 0.0, 1.0)
        per_point = 2 if self.gradients else 1
        n = int(min(self.batch_size, max(self.meter.remaining, 0) // per_point))
        logl, grad = np.full(self.batch_size, LOG_L_FLOOR), np.zeros((self.batch_size, self.dim))
        if n > 0:
            lv, gv = self.meter.query(u[:n], gradient=self.gradients)
            logl[:n] = np.where(np.isfinite(lv), np.clip(lv, LOG_L_FLOOR, OBS_BOUND), LOG_L_FLOOR)
            if gv is not None:
                grad[:n] = np.where(np.isfinite(gv), np.clip(gv, -OBS_BOUND, OBS_BOUND), 0.0)
        truncated = self.meter.remaining < per_point
        reward = -float(n * per_point) / self.meter.budget
        return self._obs(logl, grad), reward, False, bool(truncated), self._info()
