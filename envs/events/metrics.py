"""The long-horizon forecasting metrics of CDiff / HYPRO (spec tpp.md §7), vectorised over sequences.

A forecast and its target are N events each, given as inter-arrival times τ (from the last history event)
and 0-based types; event times are the cumulative sums of τ from the horizon's start.

* OTD (Mei, Qin & Eisner 2019): per type k, the cheapest monotone partial matching of the two sorted
  time lists, D_k = min_a Σ_{(i,j)∈a} |t̂_i − t_j| + C_del (n̂_k + n_k − 2|a|); OTD = Σ_k D_k, averaged over the
  deletion costs C_del ∈ {0.05, 0.5, 1, 1.5, 2, 3, 4} (the "w/o filter" variant unless `time_range` is set).
* RMSE_e: √((1/K) Σ_k (ĉ_k − c_k)²), c_k the count of type k among the N events.
* RMSE_Δt: √(mean_j (τ̂_j − τ_j)²).   sMAPE_Δt: 200 · mean_j |τ̂_j − τ_j| / (|τ_j| + |τ̂_j|) (0/0 counts as 0).

Filtering (``time_range``, the "with filter" variant): like the original's ``filter_points``, both the
forecast and the target keep only their events at cumulative times ≤ ``time_range``, for OTD *and* RMSE_e;
RMSE_Δt and sMAPE_Δt compare the N gaps position by position and are never filtered (as in the original).

Empty sides are defined: a side with no events (N = 0, or nothing left after filtering) costs C_del for every
event of the other side (OTD) and counts 0 of every type (RMSE_e); with N = 0, RMSE_Δt = sMAPE_Δt = 0.

Every function returns one value per sequence (shape (B,)); the paper reports their means.
"""

from __future__ import annotations

import numpy as np

DEL_COSTS: tuple[float, ...] = (0.05, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


def _as_batch(dt: np.ndarray, types: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    dt = np.asarray(dt, dtype=float)
    types = np.asarray(types)
    if dt.ndim == 1:
        dt, types = dt[None], types[None]
    if dt.ndim != 2 or dt.shape != types.shape:
        raise ValueError(f"{name}: inter-arrival times and types must both have shape (N,) or (B, N), "
                         f"got {dt.shape} and {types.shape}")
    if not np.all(np.isfinite(dt)):
        raise ValueError(f"{name}: inter-arrival times contain NaN or inf")
    if np.any(dt < 0):
        raise ValueError(f"{name}: inter-arrival times must be >= 0")
    return dt, types.astype(np.int64)


def _check_pair(pred_dt, pred_types, true_dt, true_types, n_types: int | None = None):
    pd_, pk = _as_batch(pred_dt, pred_types, "forecast")
    td, tk = _as_batch(true_dt, true_types, "target")
    if pd_.shape[0] != td.shape[0]:
        raise ValueError(f"forecast and target have different numbers of sequences ({pd_.shape[0]} vs {td.shape[0]})")
    if n_types is not None:
        for name, k in (("forecast", pk), ("target", tk)):
            if k.size and (k.min() < 0 or k.max() >= n_types):
                raise ValueError(f"{name}: types must lie in [0, {n_types}), got [{k.min()}, {k.max()}]")
    return pd_, pk, td, tk


def _kept(times: np.ndarray, time_range: float | None) -> np.ndarray:
    """Events kept by the filter: cumulative time ≤ time_range (all when None; the original's filter_points)."""
    if time_range is None:
        return np.ones_like(times, dtype=bool)
    if not (np.isfinite(time_range) and time_range > 0):
        raise ValueError(f"time_range must be a finite positive number or None, got {time_range}")
    return times <= time_range


def _per_type_lists(times: np.ndarray, types: np.ndarray, n_types: int, valid: np.ndarray) -> np.ndarray:
    """(B, N) cumulative times → (B, K, N) per-type sorted times, padded with +inf after each list."""
    own = (types[:, None, :] == np.arange(n_types)[None, :, None]) & valid[:, None, :]
    return np.sort(np.where(own, times[:, None, :], np.inf), axis=-1)


def otd_per_cost(pred_dt, pred_types, true_dt, true_types, n_types: int,
                 del_costs: tuple[float, ...] | list[float] = DEL_COSTS, time_range: float | None = None) -> np.ndarray:
    """OTD for each sequence and each deletion cost → (B, C), by the edit-distance dynamic programme.

    D[i, j] = min(D[i−1, j] + c_i, D[i, j−1] + c_j, D[i−1, j−1] + |a_i − b_j|) over the per-type sorted lists
    a (forecast) and b (target), vectorised over sequences × types × costs. Padding entries delete for free
    and cannot be matched, so one padded grid serves lists of every length. In one dimension an optimal
    partial matching can always be uncrossed, so the monotone optimum is the global optimum.
    """
    pd_, pk, td, tk = _check_pair(pred_dt, pred_types, true_dt, true_types, n_types)
    a_t, b_t = np.cumsum(pd_, axis=1), np.cumsum(td, axis=1)
    a_ok, b_ok = _kept(a_t, time_range), _kept(b_t, time_range)
    a = _per_type_lists(a_t, pk, n_types, a_ok)  # (B, K, Na)
    b = _per_type_lists(b_t, tk, n_types, b_ok)  # (B, K, Nb)
    na, nb = int(np.isfinite(a).sum(-1).max(initial=0)), int(np.isfinite(b).sum(-1).max(initial=0))
    costs = np.asarray(del_costs, dtype=float).reshape(-1)
    if costs.size == 0 or not np.all(np.isfinite(costs)) or np.any(costs <= 0):
        raise ValueError(f"del_costs must be a non-empty list of finite positive numbers, got {del_costs}")
    cost = costs[None, None, :]  # (1, 1, C)
    a, b = a[..., :na, None], b[..., :nb, None]  # (B, K, n, 1): broadcast against the costs
    del_a = np.where(np.isfinite(a), cost[..., None, :], 0.0)  # (B, K, na, C)
    del_b = np.where(np.isfinite(b), cost[..., None, :], 0.0)
    # D[0, j]: delete the first j target events. Keep one row of the table at a time.
    row = np.zeros((*a.shape[:2], nb + 1, costs.size))  # (B, K, nb+1, C); nb = 0: one column
    row[..., 1:, :] = np.cumsum(del_b, axis=-2)
    with np.errstate(invalid="ignore"):  # inf − inf between two pads: mapped to "cannot match" below
        match_all = np.abs(a[..., :, None, 0] - b[..., None, :, 0])  # (B, K, na, nb)
    match_all = np.where(np.isfinite(match_all), match_all, np.inf)[..., None]  # (B, K, na, nb, 1)
    for i in range(na):
        new = np.empty_like(row)
        new[..., 0, :] = row[..., 0, :] + del_a[..., i, :]
        for j in range(nb):
            match = match_all[..., i, j, :]
            new[..., j + 1, :] = np.minimum(np.minimum(row[..., j + 1, :] + del_a[..., i, :],
                                                       new[..., j, :] + del_b[..., j, :]),
                                            row[..., j, :] + match)
        row = new
    return row[..., -1, :].sum(axis=1)  # sum over types → (B, C)


def otd(pred_dt, pred_types, true_dt, true_types, n_types: int,
        del_costs: tuple[float, ...] | list[float] = DEL_COSTS, time_range: float | None = None) -> np.ndarray:
    """OTD per sequence, averaged over the deletion costs (the reported number) → (B,)."""
    return otd_per_cost(pred_dt, pred_types, true_dt, true_types, n_types, del_costs, time_range).mean(axis=1)


def count_rmse(pred_types, true_types, n_types: int, time_range: float | None = None, pred_dt=None,
               true_dt=None) -> np.ndarray:
    """RMSE_e per sequence: √((1/K) Σ_k (ĉ_k − c_k)²) over the type counts of the horizon → (B,).

    With `time_range`, only events at cumulative times ≤ time_range count, on both sides (needs the gaps).
    """
    if not (isinstance(n_types, (int, np.integer)) and n_types >= 1):
        raise ValueError(f"n_types must be a positive integer, got {n_types!r}")
    pk, tk = np.atleast_2d(np.asarray(pred_types)), np.atleast_2d(np.asarray(true_types))
    pk_ok, tk_ok = np.ones(pk.shape, bool), np.ones(tk.shape, bool)
    if time_range is not None:
        if pred_dt is None or true_dt is None:
            raise ValueError("count_rmse with time_range needs pred_dt and true_dt")
        pd_, pk, td, tk = _check_pair(pred_dt, pred_types, true_dt, true_types)
        pk_ok, tk_ok = _kept(np.cumsum(pd_, axis=1), time_range), _kept(np.cumsum(td, axis=1), time_range)
    kinds = np.arange(n_types)[None, :, None]
    diff = ((pk[:, None, :] == kinds) & pk_ok[:, None, :]).sum(-1) - ((tk[:, None, :] == kinds) & tk_ok[:, None, :]).sum(-1)
    return np.sqrt((diff ** 2).mean(axis=1))


def _position_mean(values: np.ndarray) -> np.ndarray:
    """Mean over horizon positions per sequence; 0 for an empty horizon (N = 0)."""
    return values.mean(axis=1) if values.shape[1] else np.zeros(values.shape[0])


def dt_rmse(pred_dt, true_dt) -> np.ndarray:
    """RMSE_Δt per sequence: √(mean_j (τ̂_j − τ_j)²) → (B,)."""
    p, t = np.atleast_2d(np.asarray(pred_dt, dtype=float)), np.atleast_2d(np.asarray(true_dt, dtype=float))
    return np.sqrt(_position_mean((p - t) ** 2))


def dt_smape(pred_dt, true_dt) -> np.ndarray:
    """sMAPE_Δt per sequence: 200 · mean_j |τ̂_j − τ_j| / (|τ_j| + |τ̂_j|), with 0/0 := 0 → (B,) in [0, 200]."""
    p, t = np.atleast_2d(np.asarray(pred_dt, dtype=float)), np.atleast_2d(np.asarray(true_dt, dtype=float))
    den = np.abs(p) + np.abs(t)
    ratio = np.divide(np.abs(p - t), den, out=np.zeros_like(den), where=den > 0)
    return 200.0 * _position_mean(ratio)


def forecast_metrics(pred_dt, pred_types, true_dt, true_types, n_types: int,
                     del_costs: tuple[float, ...] | list[float] = DEL_COSTS,
                     time_range: float | None = None) -> dict[str, np.ndarray]:
    """All four metrics per sequence: ``otd``, ``count_rmse``, ``dt_rmse``, ``dt_smape`` → dict of (B,) arrays."""
    pd_, pk, td, tk = _check_pair(pred_dt, pred_types, true_dt, true_types, n_types)
    return {"otd": otd(pd_, pk, td, tk, n_types, del_costs, time_range),
            "count_rmse": count_rmse(pk, tk, n_types, time_range, pd_, td),
            "dt_rmse": dt_rmse(pd_, td),
            "dt_smape": dt_smape(pd_, td)}
