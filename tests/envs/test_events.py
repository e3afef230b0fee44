"""Event streams: Hawkes likelihood and simulator against theory, OTD against brute force, loaders, the env."""

from __future__ import annotations

import gzip
import itertools
import json
import pickle

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy import stats

import envs  # noqa: F401  (registers recast/*)
from envs.events import (
    DEL_COSTS,
    EventDataset,
    EventForecastEnv,
    EventSequence,
    HawkesProcess,
    bundled_path,
    compensator_increments,
    count_rmse,
    dt_rmse,
    dt_smape,
    forecast_metrics,
    gap_disagreement,
    hawkes_intensity,
    hawkes_log_likelihood,
    load_easytpp_json,
    load_event_file,
    load_hypro_pickle,
    make_windows,
    otd_per_cost,
    save_easytpp_json,
    save_hypro_pickle,
    simulate_hawkes,
    simulate_hawkes_batch,
    stationary_rate,
    synthetic_hawkes_dataset,
)

MU = np.array([0.2, 0.1, 0.3])
ALPHA = np.array([[0.3, 0.1, 0.0], [0.0, 0.2, 0.2], [0.1, 0.0, 0.4]])
BETA = 2.0


# --------------------------------------------------------------------------- Hawkes likelihood


def test_log_likelihood_matches_numerical_integration() -> None:
    times, types = simulate_hawkes(MU, ALPHA, BETA, 60.0, seed=3)
    T = 60.0
    # Σ log λ_{k_n}(t_n⁻) by the direct double sum, ∫ Σ_i λ_i by Gauss-Legendre on every inter-event interval
    # (the intensity is smooth between events, so 20 nodes per interval are exact to ~1e-12).
    log_sum = np.log(hawkes_intensity(times, times, types, MU, ALPHA, BETA)[np.arange(times.size), types]).sum()
    edges = np.concatenate([[0.0], times, [T]])
    nodes, weights = np.polynomial.legendre.leggauss(20)
    lo, hi = edges[:-1, None], edges[1:, None]
    grid = (lo + hi) / 2 + (hi - lo) / 2 * nodes
    lam = hawkes_intensity(grid.ravel(), times, types, MU, ALPHA, BETA).sum(1).reshape(grid.shape)
    integral = ((hi - lo)[:, 0] / 2 * (lam * weights).sum(1)).sum()
    assert times.size > 20
    assert hawkes_log_likelihood(times, types, MU, ALPHA, BETA, T) == pytest.approx(log_sum - integral, rel=1e-10)


def test_log_likelihood_reference_value_of_the_spec() -> None:
    """Spec §11: seed 1, T = 200 gives 239 events, closed form −423.564 (trapezoid on 400k points: −423.567)."""
    times, types = simulate_hawkes(MU, ALPHA, BETA, 200.0, seed=1)
    assert times.size == 239
    assert hawkes_log_likelihood(times, types, MU, ALPHA, BETA, 200.0) == pytest.approx(-423.564, abs=1e-3)


def test_univariate_recursion_matches_direct_double_sum() -> None:
    mu, alpha, beta, T = 0.5, 0.6, 1.5, 40.0
    times, types = simulate_hawkes([mu], [[alpha]], beta, T, seed=0)
    lag = times[:, None] - times[None, :]
    direct = mu + alpha * beta * np.where(lag > 0, np.exp(-beta * np.clip(lag, 0, None)), 0).sum(1)
    expected = np.log(direct).sum() - mu * T - alpha * (1 - np.exp(-beta * (T - times))).sum()
    assert hawkes_log_likelihood(times, types, [mu], [[alpha]], beta, T) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- Hawkes simulator


def test_simulated_rates_match_stationary_rate() -> None:
    runs, T = 20, 1000.0
    paths = simulate_hawkes_batch(MU, ALPHA, BETA, T, runs, seed=0)
    rate = np.array([np.bincount(k, minlength=3) for _, k in paths]).sum(0) / (runs * T)
    theory = stationary_rate(MU, ALPHA)
    np.testing.assert_allclose(theory, [0.32335, 0.26347, 0.55389], atol=1e-5)  # spec §11
    # Asymptotic covariance of counts per unit time: (I − α)⁻¹ diag(Λ) (I − α)⁻ᵀ.
    inv = np.linalg.inv(np.eye(3) - ALPHA)
    sd = np.sqrt(np.diag(inv @ np.diag(theory) @ inv.T) / (runs * T))
    assert np.all(np.abs(rate - theory) < 4 * sd), (rate, theory, sd)


def test_time_rescaling_gives_unit_exponentials() -> None:
    paths = simulate_hawkes_batch(MU, ALPHA, BETA, 300.0, 4, seed=5)
    increments = np.concatenate([compensator_increments(t, k, MU, ALPHA, BETA) for t, k in paths])
    assert increments.size > 500
    assert stats.kstest(increments, "expon").pvalue > 1e-3
    # ... while a wrong decay gives a visibly wrong rescaling
    wrong = np.concatenate([compensator_increments(t, k, MU, ALPHA * 0.0 + 0.01, BETA) for t, k in paths])
    assert stats.kstest(wrong, "expon").pvalue < 1e-6


def test_simulation_is_deterministic_and_capped() -> None:
    a = simulate_hawkes(MU, ALPHA, BETA, 50.0, seed=7)
    b = simulate_hawkes(MU, ALPHA, BETA, 50.0, seed=7)
    c = simulate_hawkes(MU, ALPHA, BETA, 50.0, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.all(np.diff(a[0]) > 0) and a[0][-1] <= 50.0 and set(np.unique(a[1])) <= {0, 1, 2}
    paths = simulate_hawkes_batch(MU, ALPHA, BETA, np.inf, 3, seed=0, max_events=[5, 17, 40])
    assert [len(t) for t, _ in paths] == [5, 17, 40]


def test_unstable_or_invalid_process_is_refused() -> None:
    with pytest.raises(ValueError, match="unstable.*spectral radius"):
        simulate_hawkes(MU, ALPHA * 3, BETA, 10.0, seed=0)
    with pytest.raises(ValueError, match="unstable"):
        HawkesProcess(mu=MU, alpha=np.full((3, 3), 0.4), beta=1.0)
    with pytest.raises(ValueError, match="shape"):
        HawkesProcess(mu=MU, alpha=np.zeros((2, 2)), beta=1.0)
    with pytest.raises(ValueError, match="beta"):
        simulate_hawkes(MU, ALPHA, 0.0, 10.0)
    with pytest.raises(ValueError, match="after the end"):
        hawkes_log_likelihood([1.0, 12.0], [0, 1], MU, ALPHA, BETA, 10.0)


# --------------------------------------------------------------------------- metrics


def _brute_force_otd(a_t, a_k, b_t, b_k, n_types: int, cost: float) -> float:
    """Min over *all* partial matchings (crossing ones too) per type, by enumeration."""
    total = 0.0
    for k in range(n_types):
        a, b = [t for t, kk in zip(a_t, a_k) if kk == k], [t for t, kk in zip(b_t, b_k) if kk == k]
        best = np.inf
        for r in range(min(len(a), len(b)) + 1):
            for ia in itertools.combinations(range(len(a)), r):
                for jb in itertools.permutations(range(len(b)), r):
                    c = sum(abs(a[i] - b[j]) for i, j in zip(ia, jb)) + cost * (len(a) + len(b) - 2 * r)
                    best = min(best, c)
        total += best
    return total


def test_otd_matches_brute_force_on_tiny_sequences() -> None:
    rng = np.random.default_rng(0)
    n, K, B = 5, 2, 40
    pd_, td = rng.exponential(0.7, (B, n)), rng.exponential(0.7, (B, n))
    pk, tk = rng.integers(0, K, (B, n)), rng.integers(0, K, (B, n))
    got = otd_per_cost(pd_, pk, td, tk, K)
    for b in range(B):
        want = [_brute_force_otd(np.cumsum(pd_[b]), pk[b], np.cumsum(td[b]), tk[b], K, c) for c in DEL_COSTS]
        np.testing.assert_allclose(got[b], want, rtol=1e-12, atol=1e-12)
    # the time_range filter: events after it are dropped from both sides before matching
    a_t, b_t = np.cumsum(pd_[0]), np.cumsum(td[0])
    keep_a, keep_b = a_t <= 1.5, b_t <= 1.5
    want = _brute_force_otd(a_t[keep_a], pk[0][keep_a], b_t[keep_b], tk[0][keep_b], K, 1.0)
    got = otd_per_cost(pd_[:1], pk[:1], td[:1], tk[:1], K, del_costs=[1.0], time_range=1.5)
    assert got[0, 0] == pytest.approx(want)


def test_metrics_on_hand_computed_cases() -> None:
    dt, k = np.array([0.5, 1.0, 0.5]), np.array([0, 1, 1])
    same = forecast_metrics(dt, k, dt, k, 2)
    assert all(float(v[0]) == 0.0 for v in same.values())
    # one event of type 0 vs one of type 1 at the same time: two deletions of cost C each
    got = otd_per_cost([1.0], [0], [1.0], [1], 2)
    np.testing.assert_allclose(got[0], 2 * np.asarray(DEL_COSTS))
    # counts (2, 1) vs (0, 3): √((4 + 4)/2) = 2
    assert count_rmse([[0, 0, 1]], [[1, 1, 1]], 2)[0] == pytest.approx(2.0)
    assert dt_rmse([[1.0, 3.0]], [[1.0, 1.0]])[0] == pytest.approx(np.sqrt(2.0))
    assert dt_smape([[0.0, 2.0]], [[0.0, 1.0]])[0] == pytest.approx(200 * (0 + 1 / 3) / 2)  # 0/0 counts as 0
    with pytest.raises(ValueError, match="NaN"):
        forecast_metrics([np.nan], [0], [1.0], [0], 2)
    with pytest.raises(ValueError, match="shape"):
        forecast_metrics([1.0, 2.0], [0], [1.0], [0], 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        forecast_metrics([1.0], [5], [1.0], [0], 2)


# --------------------------------------------------------------------------- loaders


def _dataset() -> EventDataset:
    return synthetic_hawkes_dataset(HawkesProcess(MU, ALPHA, BETA), {"train": 4, "dev": 2, "test": 3}, 5, 9, seed=0)


def test_loaders_round_trip(tmp_path) -> None:
    data = _dataset()
    for path in (save_hypro_pickle(tmp_path / "d.pkl", data), save_easytpp_json(tmp_path / "d.jsonl", data)):
        back = load_event_file(path)
        assert back.n_types == 3 and set(back.splits) == {"train", "dev", "test"}
        for split in data.splits:
            for s, r in zip(data[split], back[split]):
                np.testing.assert_allclose(r.times, s.times, rtol=1e-12)
                np.testing.assert_array_equal(r.types, s.types)
    folder = tmp_path / "dir"
    folder.mkdir()
    for split in ("train", "test"):
        save_hypro_pickle(folder / f"{split}.pkl", EventDataset(3, {split: data[split]}))
    assert {k: len(v) for k, v in load_event_file(folder).splits.items()} == {"train": 4, "test": 3}


def _hypro(seqs: list, n_types: int = 3) -> dict:
    return {"dim_process": n_types, "train": seqs}


def _events(times, types, gaps=None) -> list[dict]:
    gaps = np.diff(times, prepend=0.0) if gaps is None else gaps
    return [{"time_since_start": t, "time_since_last_event": g, "type_event": k} for t, g, k in zip(times, gaps, types)]


GOOD = _events([0.5, 1.0, 2.0], [0, 1, 2])
BAD_CASES = {
    "decreasing": (_events([0.5, 1.0, 0.8], [0, 1, 2]), "event 2.*before the previous"),
    "negative-gap": (_events([0.5, 1.0, 2.0], [0, 1, 2], gaps=[0.5, 0.5, -1.0]), "event 2.*negative"),
    "type-range": (_events([0.5, 1.0, 2.0], [0, 1, 3]), r"event 2.*type_event 3 outside \[0, 3\)"),
    "negative-type": (_events([0.5, 1.0, 2.0], [0, 1, -1]), "event 2.*outside"),
    "non-integer-type": (_events([0.5, 1.0, 2.0], [0, 1, 1.5]), "event 2.*not an integer"),
    "nan-time": (_events([0.5, 1.0, float("nan")], [0, 1, 2]), "event 2.*not finite"),
    "empty": ([], "empty sequence"),
    "missing-key": ([{"time_since_start": 1.0}], "event 0.*missing key 'type_event'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_hypro_loader_names_file_sequence_and_position(tmp_path, case: str) -> None:
    seq, pattern = BAD_CASES[case]
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(_hypro([GOOD, seq])))
    with pytest.raises(ValueError, match=rf"bad\.pkl: split 'train', sequence 1.*{pattern}"):
        load_hypro_pickle(path)


def test_easytpp_loader_errors(tmp_path) -> None:
    row = {"dim_process": 2, "seq_idx": 7, "time_since_start": [0.1, 0.3, 0.2], "type_event": [0, 1, 0],
           "time_since_last_event": [0.1, 0.2, 0.1]}
    path = tmp_path / "test.json"
    path.write_text(json.dumps([row]))
    with pytest.raises(ValueError, match=r"test\.json: split 'test', sequence 7, event 2: time_since_start"):
        load_easytpp_json(path)
    path.write_text(json.dumps([{**row, "time_since_start": [0.1, 0.3, 0.4], "type_event": [0, 1, 2]}]))
    with pytest.raises(ValueError, match=r"sequence 7, event 2: type_event 2 outside \[0, 2\)"):
        load_easytpp_json(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_easytpp_json(path)


def test_pickle_loader_refuses_code_and_bad_layout(tmp_path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"dim_process": 2, "train": [[EventSequence(np.zeros(1), np.zeros(1))]]}))
    with pytest.raises(ValueError, match="evil.pkl.*refusing to load"):
        load_hypro_pickle(path)
    path.write_bytes(pickle.dumps({"train": [GOOD]}))
    with pytest.raises(ValueError, match="missing key 'dim_process'"):
        load_hypro_pickle(path)
    with pytest.raises(ValueError, match="unknown format"):
        (tmp_path / "x.csv").write_text("a")
        load_event_file(tmp_path / "x.csv")


# --------------------------------------------------------------------------- protocol and env


def test_windows_take_the_last_n_events_as_target() -> None:
    seq = EventSequence(times=np.array([1.0, 1.5, 3.0, 3.5, 6.0, 7.0]), types=np.array([0, 1, 0, 2, 1, 0]))
    w = make_windows([seq], 2, 3)
    np.testing.assert_allclose(w.target_dt[0], [2.5, 1.0])  # 6.0 − 3.5, 7.0 − 6.0
    np.testing.assert_array_equal(w.target_types[0], [1, 0])
    np.testing.assert_allclose(w.hist_times[0], [1.0, 1.5, 3.0, 3.5])
    np.testing.assert_allclose(w.hist_dt[0], [1.0, 0.5, 1.5, 0.5])
    assert w.t_last[0] == 3.5
    shifted = make_windows([seq], 2, 3, n_shifts=3, max_history=2)
    assert len(shifted) == 3 and shifted.max_history == 2
    np.testing.assert_allclose(shifted.target_dt[1], [0.5, 2.5])  # target moved back by one event
    # the two most recent history events (gaps 0.5, 1.5), timed from the window's own start, not from 0
    np.testing.assert_allclose(shifted.hist_times[1], [0.5, 2.0])
    np.testing.assert_allclose(shifted.hist_dt[1], [0.5, 1.5])
    np.testing.assert_allclose(make_windows([seq], 2, 3, drop_first_event=True).hist_times[0], [0.5, 2.0, 2.5])
    with pytest.raises(ValueError, match="my data: no sequence has more than 6"):
        make_windows([seq], 6, 3, where="my data")


def test_env_passes_check_env_and_rewards_minus_otd() -> None:
    env = gymnasium.make("recast/EventForecast-v0", n_target=4, n_sequences=16)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0, options={"index": 3})
    base = env.unwrapped
    assert info["index"] == 3 and obs["mask"].sum() == base.windows.lengths[3]
    action = {"dt": np.full(4, 0.5, np.float32), "types": np.array([0, 1, 2, 0])}
    _, reward, terminated, truncated, info = env.step(action)
    want = base.evaluate(action["dt"][None], action["types"][None], index=[3])
    assert terminated and not truncated and reward == pytest.approx(-want["otd"][0])
    assert set(info) >= {"otd", "count_rmse", "dt_rmse", "dt_smape", "target_dt"}
    with pytest.raises(ValueError, match="4 inter-arrival times"):
        env.reset(seed=0)
        env.step({"dt": np.ones(3), "types": np.zeros(3, int)})
    first = [env.reset(seed=s)[1]["index"] for s in (1, 2, 1)]
    assert first[0] == first[2]
    env.close()


def test_env_on_given_windows_scores_a_batch() -> None:
    data = _dataset()
    w = make_windows(data["train"] + data["test"], 3, 3)
    env = EventForecastEnv(windows=w)
    scores = env.evaluate(w.target_dt, w.target_types)
    assert np.all(scores["otd"] == 0) and scores["otd"].shape == (len(w),)


# --------------------------------------------------------------------------- real data (issue 18)


@pytest.fixture(scope="module")
def taobao_dev():
    """The shipped Taobao dev split, and its raw events read independently (plain pickle, trusted file)."""
    path = bundled_path("taobao") / "dev.pkl.gz"
    with gzip.open(path, "rb") as fh:
        raw = pickle.load(fh, encoding="latin1")["dev"]
    return load_event_file(path), raw


def test_real_file_loads_with_the_files_gaps(taobao_dev) -> None:
    data, raw = taobao_dev
    assert data.n_types == 17 and len(data["dev"]) == len(raw) == 200
    for seq, events in zip(data["dev"], raw):
        np.testing.assert_array_equal(seq.gaps, [e["time_since_last_event"] for e in events])
        np.testing.assert_array_equal(seq.times, [e["time_since_start"] for e in events])
    assert min(s.times[0] for s in data["dev"]) > 1e5  # absolute file times: never a gap
    bad, total = gap_disagreement(data["dev"])
    assert total == 11_404 and 0.05 < bad / total < 0.08  # the README's ~6 % of events


def test_late_windows_carry_no_absolute_time(taobao_dev) -> None:
    from agents.forecasters import pad_sequences

    seqs = taobao_dev[0]["dev"]
    w = make_windows(seqs, 20, 17, n_shifts=3, max_history=8)
    gaps = np.concatenate([s.gaps for s in seqs])
    assert w.hist_dt.max() <= gaps.max() <= 2.0 and w.target_dt.max() <= 2.0
    np.testing.assert_allclose(w.hist_times, np.cumsum(w.hist_dt, axis=1) * w.hist_mask)
    assert w.hist_times.max() <= 8 * 2.0  # 8 gaps of at most 2, never ≈ 1.5e5
    # one sequence moved by 1e5: identical windows (times enter only through the gaps)
    seq = EventSequence(times=np.array([1.0, 1.5, 3.0, 3.5, 6.0, 7.0]), types=np.array([0, 1, 0, 2, 1, 0]),
                        dt=np.array([0.0, 0.5, 1.5, 0.5, 2.5, 1.0]))
    late = EventSequence(times=seq.times + 1e5, types=seq.types, dt=seq.dt)
    a, b = make_windows([seq], 2, 3, n_shifts=2, max_history=2), make_windows([late], 2, 3, n_shifts=2, max_history=2)
    for name in ("hist_times", "hist_dt", "target_dt"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_allclose(a.hist_times[0], [1.5, 2.0])  # gaps 1.5, 0.5 from the window's start
    batch = pad_sequences(seqs)  # whole sequences (Hawkes MLE, IFTPP): observed from 0, not from 1.5e5
    assert float(batch.t_last.max()) == pytest.approx(max(s.gaps.sum() for s in seqs), rel=1e-5)


def test_file_gaps_are_checked_against_the_times(tmp_path) -> None:
    ev = lambda t, g: {"time_since_start": t, "time_since_last_event": g, "type_event": 0}
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps({"dim_process": 1, "train": [[ev(10.0, 0.0), ev(12.0, 0.5), ev(13.0, 1.0)]]}))
    seq = load_hypro_pickle(path)["train"][0]
    np.testing.assert_array_equal(seq.gaps, [0.0, 0.5, 1.0])  # the file's gaps (0.5 < 12 − 10 is accepted)
    assert gap_disagreement([seq]) == (1, 3)
    path.write_bytes(pickle.dumps({"dim_process": 1, "train": [[ev(10.0, 0.0), ev(12.0, 2.5)]]}))
    with pytest.raises(ValueError, match=r"g\.pkl: split 'train', sequence 0, event 1: time_since_last_event 2\.5 "
                                         r"exceeds the time since the previous event \(2\.0"):
        load_hypro_pickle(path)
    path.write_bytes(pickle.dumps({"dim_process": 1, "train": [[ev(10.0, 0.0), ev(12.0, 2.0 + 1e-9)]]}))
    assert load_hypro_pickle(path)["train"][0].gaps[1] == 2.0 + 1e-9  # round-off is tolerated
    rows = [{"dim_process": 1, "time_since_start": [5e4, 5e4 + 1.0], "type_event": [0, 0]}]
    (tmp_path / "train.json").write_text(json.dumps(rows))  # no gaps in the file: τ_0 = 0, never 5e4
    np.testing.assert_array_equal(load_easytpp_json(tmp_path / "train.json")["train"][0].gaps, [0.0, 1.0])


def _huge_state_array_pickle() -> bytes:
    """A real array pickle whose state claims 10¹³ elements (the shape K\x03 → a long int)."""
    blob = pickle.dumps(np.arange(3.0), protocol=4)
    assert blob.count(b"K\x03\x85") == 1
    return blob.replace(b"K\x03\x85", b"\x8a\x06\x00\xa0rN\x18\t\x85")


@pytest.mark.parametrize("case, blob, reason", [
    ("dict5", b"\x80\x04cbuiltins\ndict\nK\x05\x85R.", "'int' object is not iterable"),
    ("dtype", b"\x80\x04cnumpy\ndtype\nX\x04\x00\x00\x00junk\x85R.", "data type 'junk' not understood"),
    ("huge", b"\x80\x04cnumpy\nndarray\n\x8a\x06\x00\xa0rN\x18\t\x85\x85R.", r"shape \(10000000000000,\)"),
    ("huge_state", None, r"shape \(10000000000000,\)"),
])
def test_unpickler_turns_abused_callables_into_one_line_errors(tmp_path, case, blob, reason) -> None:
    path = tmp_path / f"{case}.pkl"
    path.write_bytes(blob if blob is not None else _huge_state_array_pickle())
    with pytest.raises(ValueError, match=rf"^{path}: not a readable event-sequence pickle \(.*{reason}") as err:
        load_event_file(path)
    assert "\n" not in str(err.value)


def test_pickle_size_cap_and_gzip(tmp_path) -> None:
    data = synthetic_hawkes_dataset(HawkesProcess([0.4], [[0.3]], 1.0), {"train": 3}, 5, 6, seed=0)
    path = save_hypro_pickle(tmp_path / "train.pkl.gz", data)
    with gzip.open(path, "rb") as fh:  # really gzipped
        assert pickle.load(fh)["dim_process"] == 1
    back = load_event_file(path)
    np.testing.assert_allclose(back["train"][2].gaps, data["train"][2].gaps)
    with pytest.raises(ValueError, match=rf"^{path}: larger than the 100-byte cap"):
        load_hypro_pickle(path, max_bytes=100)
    good = tmp_path / "ok.pkl"
    good.write_bytes(pickle.dumps({"dim_process": 1, "train": [[{"time_since_start": np.float64(1.0),
                                                                  "type_event": np.int64(0)}]],
                                   "extra": np.arange(4.0)}, protocol=5))
    assert load_hypro_pickle(good)["train"][0].times[0] == 1.0  # honest NumPy scalars and arrays still load
    good.write_bytes(pickle.dumps({"dim_process": 1, "train": [[{"time_since_start": 1.0, "type_event": 0}]],
                                   "extra": np.arange(4.0)}, protocol=4))
    assert load_hypro_pickle(good).n_types == 1


def test_otd_and_counts_with_empty_sides_and_full_filtering() -> None:
    mean_cost = float(np.mean(DEL_COSTS))
    pred_dt, pred_k = np.array([[1.0, 1.0, 1.0]]), np.array([[0, 1, 1]])
    late_dt, late_k = np.array([[5.0, 1.0, 1.0]]), np.array([[0, 0, 1]])
    # the filter at 2.5 keeps forecast events at 1, 2 (types 0, 1) and no target event: two deletions
    got = forecast_metrics(pred_dt, pred_k, late_dt, late_k, 2, time_range=2.5)
    assert got["otd"][0] == pytest.approx(2 * mean_cost)
    assert got["count_rmse"][0] == pytest.approx(np.sqrt((1 + 1) / 2))  # counts (1, 1) vs (0, 0)
    assert got["dt_rmse"][0] == pytest.approx(np.sqrt(16 / 3))  # gaps are compared unfiltered
    # both sides filtered away entirely: nothing to pay
    both = forecast_metrics(late_dt, late_k, late_dt + 1, late_k, 2, time_range=0.5)
    assert both["otd"][0] == 0 and both["count_rmse"][0] == 0
    # unfiltered, the counts are of all N events: (1, 2) vs (2, 1)
    assert count_rmse(pred_k, late_k, 2)[0] == pytest.approx(1.0)
    # N = 0: every metric is 0, not an IndexError or NaN
    empty = forecast_metrics(np.zeros((2, 0)), np.zeros((2, 0), int), np.zeros((2, 0)), np.zeros((2, 0), int), 3)
    assert all(np.array_equal(v, [0.0, 0.0]) for v in empty.values())
    env = EventForecastEnv(windows=make_windows([EventSequence(times=np.array([0.1, 0.2, 9.0, 9.5]),
                                                               types=np.array([0, 1, 0, 1]))], 2, 2),
                           time_range=1.0)
    env.reset(seed=0)
    _, reward, *_ = env.step({"dt": np.array([0.3, 0.3], np.float32), "types": np.array([0, 1])})
    assert reward == pytest.approx(-2 * mean_cost)  # the target (gaps 8.8, 0.5) is filtered away
    with pytest.raises(ValueError, match="time_range"):
        forecast_metrics(pred_dt, pred_k, late_dt, late_k, 2, time_range=-1.0)


def test_simulator_and_mle_agree_with_tick() -> None:
    """Optional peer check (``pip install -e .[tick]``): counts on [0, T] from our Ogata sampler and tick's
    ``SimuHawkesExpKernels`` agree (Welch tests), and our MLE recovers tick-simulated parameters."""
    hawkes = pytest.importorskip("tick.hawkes")
    from agents.forecasters import HawkesForecaster

    mu, alpha, beta, T = np.array([0.2, 0.1, 0.3]), np.array([[.3, .1, 0], [0, .2, .2], [.1, 0, .4]]), 2.0, 100.0
    ours = np.array([np.bincount(k, minlength=3) for _, k in
                     simulate_hawkes_batch(mu, alpha, beta, T, 150, np.random.default_rng(0))])
    theirs, seqs = [], []
    for i in range(150):
        sim = hawkes.SimuHawkesExpKernels(adjacency=alpha, decays=beta, baseline=mu, end_time=T, seed=10 + i,
                                          verbose=False)
        sim.simulate()
        theirs.append([len(t) for t in sim.timestamps])
        times = np.concatenate(sim.timestamps)
        kinds = np.concatenate([np.full(len(t), j) for j, t in enumerate(sim.timestamps)])
        order = np.argsort(times, kind="stable")
        seqs.append(EventSequence(times=times[order], types=kinds[order]))
    theirs = np.array(theirs)
    for j in range(3):
        assert stats.ttest_ind(ours[:, j], theirs[:, j], equal_var=False).pvalue > 1e-3
    model, _ = HawkesForecaster.fit(seqs[:40], 3, max_iter=60)
    np.testing.assert_allclose(model.alpha.numpy(), alpha, atol=0.1)
    np.testing.assert_allclose(model.mu.numpy(), mu, atol=0.06)
    assert model.beta == pytest.approx(beta, rel=0.25)
