"""What every N-event forecaster shares: tensor batches, the point-forecast rule, the Box-Cox transform.

Forecasters never import envs: they read history/target windows by attribute (``hist_times``, ``hist_dt``,
``hist_types``, ``hist_mask``, ``target_dt``, ``target_types`` — e.g. ``envs.events.ForecastWindows``) and
sequences as objects with ``types`` and ``gaps`` (or ``times`` only). Every time a model sees is relative:
history times are cumulative sums of the sequence's own gaps, never a file's absolute ``time_since_start``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn


@dataclass
class EventBatch:
    """Padded history (and optional target) tensors on one device; valid history events come first."""

    hist_times: torch.Tensor  # (B, L) float, times since the window's start (cumsum of hist_dt)
    hist_dt: torch.Tensor  # (B, L) float, inter-arrival times
    hist_types: torch.Tensor  # (B, L) long
    hist_mask: torch.Tensor  # (B, L) bool
    target_dt: torch.Tensor | None = None  # (B, N) float
    target_types: torch.Tensor | None = None  # (B, N) long

    @classmethod
    def from_windows(cls, windows: Any, device: str | torch.device = "cpu") -> EventBatch:
        def tensor(name: str, dtype: torch.dtype) -> torch.Tensor | None:
            value = getattr(windows, name, None)
            return None if value is None else torch.as_tensor(np.asarray(value), dtype=dtype, device=device)

        return cls(tensor("hist_times", torch.float32), tensor("hist_dt", torch.float32),
                   tensor("hist_types", torch.long), tensor("hist_mask", torch.bool),
                   tensor("target_dt", torch.float32), tensor("target_types", torch.long))

    def __len__(self) -> int:
        return int(self.hist_times.shape[0])

    def index(self, idx: torch.Tensor | slice) -> EventBatch:
        return EventBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[idx]
                             for f in fields(self)})

    @property
    def lengths(self) -> torch.Tensor:
        return self.hist_mask.sum(dim=1)

    @property
    def t_last(self) -> torch.Tensor:
        """Time of each window's last history event (since the window's start)."""
        return self.hist_times.gather(1, (self.lengths - 1).clamp_min(0)[:, None]).squeeze(1)


def sequence_gaps(seq: Any) -> np.ndarray:
    """τ of one sequence: its ``gaps`` when it has them (loaded files always do), else diff(times) from 0."""
    gaps = getattr(seq, "gaps", None)
    if gaps is not None:
        return np.asarray(gaps, dtype=float)
    return np.diff(np.asarray(seq.times, dtype=float), prepend=0.0)


def pad_sequences(sequences: Sequence[Any], device: str | torch.device = "cpu") -> EventBatch:
    """Whole sequences as an :class:`EventBatch` with no target: τ = :func:`sequence_gaps`, t = cumsum(τ).

    Each sequence is observed from 0 (one gap before its first event) to its last event t_last.
    """
    if not sequences:
        raise ValueError("no sequences to pad")
    L = max(len(s.types) for s in sequences)
    dt, types, mask = np.zeros((len(sequences), L)), np.zeros((len(sequences), L), np.int64), np.zeros(
        (len(sequences), L), bool)
    for i, s in enumerate(sequences):
        n = len(s.types)
        dt[i, :n], types[i, :n], mask[i, :n] = sequence_gaps(s), s.types, True
    times = np.where(mask, np.cumsum(dt, axis=1), 0.0)
    return EventBatch.from_windows(
        type("Padded", (), {"hist_times": times, "hist_dt": dt, "hist_types": types, "hist_mask": mask}), device)


def point_forecast(dt_samples: torch.Tensor, type_samples: torch.Tensor,
                   n_types: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation rule of spec §7 for S samples (S, B, N): element-wise mean τ and per-position mode type.

    Ties between types go to the smallest type id.
    """
    counts = torch.nn.functional.one_hot(type_samples, n_types).sum(dim=0)  # (B, N, K)
    return dt_samples.mean(dim=0), counts.argmax(dim=-1)


class Forecaster:
    """Interface of the N-event forecasters: draw S joint samples of the next N events, or a point forecast."""

    n_types: int

    def sample(self, batch: EventBatch, n_target: int, n_samples: int,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """S samples of the next `n_target` events → (dt (S, B, N) float, types (S, B, N) long)."""
        raise NotImplementedError

    def forecast(self, batch: EventBatch, n_target: int, n_samples: int,
                 generator: torch.Generator | None = None, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Point forecast (spec §7) from `n_samples` samples, computed in chunks of windows → NumPy (B, N)."""
        dts, kinds = [], []
        with torch.no_grad():
            for start in range(0, len(batch), chunk):
                part = batch.index(slice(start, start + chunk))
                dt, k = point_forecast(*self.sample(part, n_target, n_samples, generator), self.n_types)
                dts.append(dt.cpu().numpy())
                kinds.append(k.cpu().numpy())
        return np.concatenate(dts).astype(float), np.concatenate(kinds)


@dataclass
class BoxCoxStandardizer:
    """Box-Cox + z-score transform of inter-arrival times (spec §2, the ``--boxcox`` path).

    Forward: y = BoxCox(scale · (τ + ε); λ), z = (y − mean)/std, with scale = (1/τ̄)^p (p = 2 for synthetic
    data in the original code; 5 by default there, 5.5 Taobao, 0 Retweet) and λ fitted by maximum likelihood
    (``scipy.stats.boxcox``) on the scaled non-zero training τ below τ̄ + σ_τ. Inverse: un-z-score, clamp
    to the Box-Cox range, invert, divide by scale; non-positive results become 0.85 · min τ. Our addition:
    results are capped at 100 × the largest training τ (for λ < 0 the inverse can overflow).
    """

    scale: float
    lam: float
    mean: float
    std: float
    min_dt: float
    max_dt: float
    eps: float = 1e-7

    @classmethod
    def fit(cls, dt: np.ndarray, scale_power: float = 2.0, cutoff: float | None = None) -> BoxCoxStandardizer:
        """Fit on training inter-arrival times; `cutoff` overrides the fitting cut-off τ̄ + σ_τ."""
        dt = np.asarray(dt, dtype=float).reshape(-1)
        if dt.size < 2 or not np.all(np.isfinite(dt)) or np.any(dt < 0):
            raise ValueError("Box-Cox fit needs at least two finite, non-negative inter-arrival times")
        if cutoff is not None and not (np.isfinite(cutoff) and cutoff > 0):
            raise ValueError(f"cutoff must be a finite positive number or None, got {cutoff}")
        if not np.isfinite(scale_power):
            raise ValueError(f"scale_power must be finite, got {scale_power}")
        positive = dt[dt > 0]
        if positive.size < 2:
            raise ValueError("Box-Cox fit needs at least two positive inter-arrival times")
        scale = float((1.0 / dt.mean()) ** scale_power)
        limit = cutoff if cutoff is not None else dt.mean() + dt.std()
        fit_on = positive[positive < limit] if (positive < limit).sum() >= 2 else positive
        _, lam = stats.boxcox(scale * (fit_on + cls.eps))
        y = stats.boxcox(scale * (dt + cls.eps), lmbda=lam)
        return cls(scale=scale, lam=float(lam), mean=float(y.mean()), std=float(max(y.std(), 1e-8)),
                   min_dt=float(positive.min()), max_dt=float(dt.max()))

    def transform(self, dt: torch.Tensor) -> torch.Tensor:
        x = self.scale * (dt.clamp_min(0) + self.eps)
        y = torch.log(x) if abs(self.lam) < 1e-8 else (x ** self.lam - 1) / self.lam
        return (y - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        y = z * self.std + self.mean
        if abs(self.lam) < 1e-8:
            x = torch.exp(y.clamp(max=80.0))
        else:
            base = (self.lam * y + 1).clamp_min(1e-12)  # the Box-Cox range: λ y + 1 > 0
            x = base ** (1.0 / self.lam)
        dt = torch.nan_to_num(x / self.scale - self.eps, nan=self.min_dt).clamp(max=100.0 * self.max_dt)
        return torch.where(dt > 0, dt, torch.full_like(dt, 0.85 * self.min_dt))


class BestCheckpoint:
    """Keeps the weights with the lowest dev score seen during training and restores them at the end."""

    def __init__(self, net: nn.Module):
        self.net, self.score, self.state = net, math.inf, None

    def update(self, score: float) -> None:
        if score < self.score:
            self.score, self.state = score, copy.deepcopy(self.net.state_dict())

    def restore(self) -> None:
        if self.state is not None:
            self.net.load_state_dict(self.state)
