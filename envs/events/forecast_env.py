"""The long-horizon forecasting protocol (spec tpp.md §1, §7) and its Gymnasium env ``recast/EventForecast-v0``.

Protocol: for a horizon of N events, the **last N events** of each sequence are the target and everything
before is the history. Target inter-arrival times are measured from the last history event, so the
target's event times are ``cumsum(target_dt)`` from the horizon's start. Training sets may add shifted
windows (target = last N events shifted back by 0, 1, 2, …; spec §1, 3 windows in the original code).

Every window is relative to its own start: gaps are the sequence's own (a file's ``time_since_last_event``),
and history times are the cumulative sums of the window's history gaps, so the window starts one gap before
its first history event. A window never carries a file's absolute ``time_since_start`` (Taobao's ≈ 1.5e5).

>>> import gymnasium, envs
>>> env = gymnasium.make("recast/EventForecast-v0", n_target=5)
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())   # reward = −OTD
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.events.formats import EventDataset, EventSequence
from envs.events.hawkes import HawkesProcess, simulate_hawkes_batch
from envs.events.metrics import DEL_COSTS, forecast_metrics

# A bursty three-type process (ρ(α) ≈ 0.73): the default world of the env and of the scenario.
DEFAULT_HAWKES = {"mu": [0.2, 0.1, 0.3], "alpha": [[0.5, 0.2, 0.0], [0.0, 0.4, 0.3], [0.2, 0.0, 0.6]], "beta": 1.0}


@dataclass(frozen=True)
class ForecastWindows:
    """History/target windows as padded arrays (valid history events first, then padding).

    Attributes:
        hist_times: (B, L) event times since the window's start, cumsum of `hist_dt` (0 on padding).
        hist_dt: (B, L) history inter-arrival times (0 on padding).
        hist_types: (B, L) history types, 0-based (0 on padding).
        hist_mask: (B, L) True on real history events.
        target_dt: (B, N) target inter-arrival times, the first measured from the last history event.
        target_types: (B, N) target types.
        n_types: K.
    """

    hist_times: np.ndarray
    hist_dt: np.ndarray
    hist_types: np.ndarray
    hist_mask: np.ndarray
    target_dt: np.ndarray
    target_types: np.ndarray
    n_types: int

    def __len__(self) -> int:
        return int(self.target_dt.shape[0])

    @property
    def n_target(self) -> int:
        return int(self.target_dt.shape[1])

    @property
    def max_history(self) -> int:
        return int(self.hist_times.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        return self.hist_mask.sum(axis=1)

    @property
    def t_last(self) -> np.ndarray:
        """Time of the last history event of each window (since the window's start)."""
        return self.hist_times[np.arange(len(self)), self.lengths - 1]

    def subset(self, index: Any) -> ForecastWindows:
        return ForecastWindows(self.hist_times[index], self.hist_dt[index], self.hist_types[index],
                               self.hist_mask[index], self.target_dt[index], self.target_types[index], self.n_types)


def make_windows(sequences: list[EventSequence], n_target: int, n_types: int, *, n_shifts: int = 1,
                 max_history: int | None = None, min_history: int = 1, drop_first_event: bool = False,
                 where: str = "sequences") -> ForecastWindows:
    """Split sequences into history (all but the last N events) and target (the last N events).

    Args:
        n_shifts: windows per sequence; shift s ∈ {0..n_shifts−1} moves the target back by s events (the
            original code's training augmentation uses 3).
        max_history: keep only the most recent `max_history` history events (None: all).
        min_history: windows with fewer history events are skipped.
        drop_first_event: drop each sequence's first event (the original code's ``seq[1:]``, quirk 7).
        where: names the data in the error raised when no sequence is long enough.
    """
    if n_target < 1 or n_shifts < 1 or min_history < 1:
        raise ValueError(f"n_target, n_shifts and min_history must be >= 1, got {n_target}, {n_shifts}, {min_history}")
    cut = []  # (gaps, types, end): history = events [0, end − N), target = events [end − N, end)
    for seq in sequences:
        gaps, types = (seq.gaps[1:], seq.types[1:]) if drop_first_event else (seq.gaps, seq.types)
        for s in range(n_shifts):
            end = len(types) - s
            if end - n_target >= min_history:
                cut.append((gaps, types, end))
    if not cut:
        longest = max((len(s) for s in sequences), default=0)
        raise ValueError(f"{where}: no sequence has more than {n_target} + {min_history - 1} events "
                         f"(longest has {longest}); lower the horizon N")
    hist_len = [min(end - n_target, max_history or end) for _, _, end in cut]
    B, L = len(cut), max(hist_len)
    out = {"hist_times": np.zeros((B, L)), "hist_dt": np.zeros((B, L)), "hist_types": np.zeros((B, L), np.int64),
           "hist_mask": np.zeros((B, L), bool), "target_dt": np.zeros((B, n_target)),
           "target_types": np.zeros((B, n_target), np.int64)}
    for b, ((gaps, types, end), h) in enumerate(zip(cut, hist_len)):
        start = end - n_target  # first target event
        out["hist_times"][b, :h] = np.cumsum(gaps[start - h:start])  # relative to the window's own start
        out["hist_dt"][b, :h] = gaps[start - h:start]
        out["hist_types"][b, :h] = types[start - h:start]
        out["hist_mask"][b, :h] = True
        out["target_dt"][b] = gaps[start:end]
        out["target_types"][b] = types[start:end]
    return ForecastWindows(n_types=int(n_types), **out)


def synthetic_hawkes_dataset(process: HawkesProcess, sizes: dict[str, int], min_len: int, max_len: int,
                             seed: int | np.random.Generator | None) -> EventDataset:
    """Sequences of U{min_len..max_len} events from `process` (each started empty at t = 0), by split."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    total = sum(sizes.values())
    lengths = rng.integers(min_len, max_len + 1, size=total)
    paths = simulate_hawkes_batch(process.mu, process.alpha, process.beta, np.inf, total, rng, max_events=lengths)
    seqs = [EventSequence(times=t, types=k) for t, k in paths]
    splits, start = {}, 0
    for name, n in sizes.items():
        splits[name], start = seqs[start:start + n], start + n
    return EventDataset(n_types=process.n_types, splits=splits, source="synthetic Hawkes")


class EventForecastEnv(gymnasium.Env[dict, dict]):
    """Forecast the next N events of an event stream from its history; the reward is −OTD.

    ## Description
    Each episode is one window of a fixed set (a test split, or synthetic Hawkes sequences): the agent
    observes the history and answers with an N-event forecast, scored by the paper's metrics (spec §7).

    ## Observation Space
    ``Dict``: ``times`` (L,) float32 times of the history events since the window's start; ``dt`` (L,) float32 their
    inter-arrival times; ``types`` (L,) int64 in [0, K); ``mask`` (L,) int8, 1 on real events (the history
    sits first, padding after it).

    ## Action Space
    ``Dict``: ``dt`` ``Box(0, dt_high, (N,), float32)`` forecast inter-arrival times, the first from the last
    history event; ``types`` ``MultiDiscrete([K] * N)``.

    ## Rewards
    −OTD between forecast and target, averaged over the deletion costs ``del_costs`` (spec §7).

    ## Starting State
    A window drawn uniformly with ``self.np_random`` (or ``options={"index": i}``).

    ## Episode End
    Terminated after the single forecast. ``info`` holds all four metrics and the target.

    ## Arguments
    ``windows`` (a :class:`ForecastWindows`; default: ``n_sequences`` synthetic Hawkes sequences of
    ``seq_len`` events from ``hawkes`` = dict(mu, alpha, beta), seeded by ``data_seed``), ``n_target`` (N),
    ``max_history``, ``del_costs``, ``time_range`` (the "with filter" OTD: only events within this time of
    the horizon's start count; None = "w/o filter"), ``dt_high`` (action bound; default 10 × the largest gap).

    ## Version History
    v0: initial version.
    """

    metadata = {"render_modes": []}

    def __init__(self, windows: ForecastWindows | None = None, n_target: int = 5, max_history: int | None = 64,
                 hawkes: dict | None = None, n_sequences: int = 64, seq_len: tuple[int, int] = (20, 40),
                 data_seed: int = 0, del_costs: tuple[float, ...] = DEL_COSTS, time_range: float | None = None,
                 dt_high: float | None = None, render_mode: str | None = None):
        if windows is None:
            process = HawkesProcess(**(hawkes or DEFAULT_HAWKES))
            data = synthetic_hawkes_dataset(process, {"all": n_sequences}, seq_len[0], seq_len[1], data_seed)
            windows = make_windows(data["all"], n_target, process.n_types, max_history=max_history)
        self.windows = windows
        self.n_types, self.n_target = windows.n_types, windows.n_target
        self.del_costs = tuple(float(c) for c in del_costs)
        self.time_range = time_range
        self.render_mode = render_mode
        L, N, K = windows.max_history, windows.n_target, windows.n_types
        gap_max = float(max(windows.hist_dt.max(), windows.target_dt.max(), 1e-6))
        self.dt_high = float(dt_high) if dt_high is not None else 10.0 * gap_max
        self.observation_space = spaces.Dict({
            "times": spaces.Box(0.0, float(np.float32(windows.hist_times.max())) + 1.0, shape=(L,), dtype=np.float32),
            "dt": spaces.Box(0.0, float(np.float32(gap_max)) + 1.0, shape=(L,), dtype=np.float32),
            "types": spaces.MultiDiscrete(np.full(L, K)),
            "mask": spaces.MultiBinary(L),
        })
        self.action_space = spaces.Dict({
            "dt": spaces.Box(0.0, self.dt_high, shape=(N,), dtype=np.float32),
            "types": spaces.MultiDiscrete(np.full(N, K)),
        })
        self._index = 0

    def _obs(self, i: int) -> dict[str, np.ndarray]:
        w = self.windows
        return {"times": w.hist_times[i].astype(np.float32), "dt": w.hist_dt[i].astype(np.float32),
                "types": w.hist_types[i].astype(np.int64), "mask": w.hist_mask[i].astype(np.int8)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        if options and "index" in options:
            i = int(options["index"])
            if not 0 <= i < len(self.windows):
                raise ValueError(f"options['index'] must lie in [0, {len(self.windows)}), got {i}")
        else:
            i = int(self.np_random.integers(len(self.windows)))
        self._index = i
        return self._obs(i), {"index": i}

    def step(self, action: dict) -> tuple[dict, float, bool, bool, dict]:
        dt = np.asarray(action["dt"], dtype=float).reshape(-1)
        types = np.asarray(action["types"]).reshape(-1)
        if dt.shape != (self.n_target,) or types.shape != (self.n_target,):
            raise ValueError(f"action must hold {self.n_target} inter-arrival times and types, "
                             f"got {dt.shape[0]} and {types.shape[0]}")
        scores = self.evaluate(dt[None], types[None], index=[self._index])
        info = {k: float(v[0]) for k, v in scores.items()}
        w = self.windows
        info.update(index=self._index, target_dt=w.target_dt[self._index].copy(),
                    target_types=w.target_types[self._index].copy())
        return self._obs(self._index), -info["otd"], True, False, info

    def evaluate(self, pred_dt: np.ndarray, pred_types: np.ndarray, index: Any = None) -> dict[str, np.ndarray]:
        """Score forecasts for many windows at once (all windows, in order, unless `index` selects some).

        Returns the per-window metrics (``otd`` = −reward, ``count_rmse``, ``dt_rmse``, ``dt_smape``).
        """
        w = self.windows if index is None else self.windows.subset(index)
        return forecast_metrics(pred_dt, pred_types, w.target_dt, w.target_types, self.n_types, self.del_costs,
                                self.time_range)
