"""N-event forecasters: CDiff's parts, IFTPP's density and sampler, the Hawkes MLE and its thinning sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from agents.forecasters import (
    BoxCoxStandardizer,
    CDiff,
    CDiffConfig,
    EventBatch,
    HawkesForecaster,
    IntensityFree,
    IntensityFreeConfig,
    batch_log_likelihood,
    lognormal_mixture_density,
    pad_sequences,
    point_forecast,
)
from envs.events import (
    HawkesProcess,
    hawkes_log_likelihood,
    make_windows,
    synthetic_hawkes_dataset,
)

PROCESS = HawkesProcess(mu=[0.3, 0.2], alpha=[[0.4, 0.2], [0.1, 0.5]], beta=1.5)


@pytest.fixture(scope="module")
def data():
    return synthetic_hawkes_dataset(PROCESS, {"train": 120, "test": 20}, 30, 40, seed=0)



# --------------------------------------------------------------------------- shared parts


def test_point_forecast_is_mean_time_and_mode_type() -> None:
    dt = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]], [[5.0, 9.0]]])  # (S=3, B=1, N=2)
    types = torch.tensor([[[2, 0]], [[1, 1]], [[2, 0]]])
    mean, mode = point_forecast(dt, types, 3)
    assert mean.tolist() == [[3.0, 5.0]] and mode.tolist() == [[2, 0]]
    _, tie = point_forecast(dt[:2], torch.tensor([[[2, 1]], [[1, 0]]]), 3)
    assert tie.tolist() == [[1, 0]]  # ties go to the smallest type id


def test_box_cox_standardizer_round_trip_and_scale() -> None:
    rng = np.random.default_rng(0)
    dt = rng.exponential(0.5, 5000)
    s = BoxCoxStandardizer.fit(dt, scale_power=2.0)
    assert s.scale == pytest.approx((1 / dt.mean()) ** 2)
    fit_on = dt[dt < dt.mean() + dt.std()]
    assert s.lam == pytest.approx(stats.boxcox(s.scale * (fit_on + 1e-7))[1], rel=1e-6)
    z = s.transform(torch.tensor(dt))
    assert abs(float(z.mean())) < 1e-6 and float(z.std()) == pytest.approx(1.0, rel=1e-3)
    torch.testing.assert_close(s.inverse(z), torch.tensor(dt), rtol=1e-5, atol=1e-9)
    below = s.inverse(torch.tensor([-1e3]))  # below the Box-Cox range → 0.85 × the smallest training gap
    assert float(below) == pytest.approx(0.85 * dt.min(), rel=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        BoxCoxStandardizer.fit(np.array([1.0, -1.0, 2.0]))


def test_event_batch_from_sequences(data) -> None:
    seqs = data["train"][:3]
    b = pad_sequences(seqs)
    assert b.hist_times.shape == (3, max(len(s) for s in seqs))
    torch.testing.assert_close(b.t_last.double(), torch.tensor([s.times[-1] for s in seqs]), rtol=1e-6, atol=0)
    torch.testing.assert_close(b.hist_dt[0, :len(seqs[0])].double(), torch.tensor(seqs[0].gaps), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- Hawkes MLE and thinning


def test_batch_log_likelihood_matches_the_env_closed_form(data) -> None:
    seqs = data["train"][:4]
    b = pad_sequences(seqs)
    got = batch_log_likelihood(torch.tensor(PROCESS.mu), torch.tensor(PROCESS.alpha), torch.tensor(PROCESS.beta),
                               b, b.t_last.double())
    want = [hawkes_log_likelihood(s.times, s.types, PROCESS.mu, PROCESS.alpha, PROCESS.beta, s.times[-1]) for s in seqs]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_hawkes_mle_recovers_the_process(data) -> None:
    model, info = HawkesForecaster.fit(data["train"], 2, max_iter=100)
    np.testing.assert_allclose(model.mu.numpy(), PROCESS.mu, atol=0.12)
    np.testing.assert_allclose(model.alpha.numpy(), PROCESS.alpha, atol=0.2)
    assert model.beta == pytest.approx(PROCESS.beta, rel=0.4)
    b = pad_sequences(data["train"])
    true_ll = batch_log_likelihood(torch.tensor(PROCESS.mu), torch.tensor(PROCESS.alpha),
                                   torch.tensor(PROCESS.beta), b, b.t_last.double()).sum() / b.hist_mask.sum()
    assert info["train_log_likelihood_per_event"] >= float(true_ll) - 1e-9  # the MLE beats the truth in-sample


def test_thinning_first_gap_follows_the_exact_conditional_law(data) -> None:
    """P(first gap > w | history) = exp(−Λ(t_last, t_last + w)) with the compensator of spec §11."""
    oracle = HawkesForecaster(PROCESS.mu, PROCESS.alpha, PROCESS.beta)
    windows = make_windows(data["test"][:1], 1, 2)
    batch = EventBatch.from_windows(windows)
    dt, types = oracle.sample(batch, 3, 4000, torch.Generator().manual_seed(0))
    assert dt.shape == (4000, 1, 3) and types.shape == (4000, 1, 3) and torch.all(dt >= 0)
    h = windows.hist_mask[0]
    lag = windows.t_last[0] - windows.hist_times[0][h]
    R = np.bincount(windows.hist_types[0][h], weights=np.exp(-PROCESS.beta * lag), minlength=2)
    col = PROCESS.alpha.sum(0)

    def cdf(w):
        return 1 - np.exp(-(PROCESS.mu.sum() * w + col @ R * (1 - np.exp(-PROCESS.beta * w))))

    assert stats.kstest(dt[:, 0, 0].numpy(), cdf).pvalue > 1e-3
    lam = PROCESS.mu + PROCESS.beta * PROCESS.alpha @ R  # the first type ∝ λ at the first event time: check
    assert set(np.unique(types.numpy())) <= {0, 1} and lam.min() > 0


# --------------------------------------------------------------------------- IFTPP


def test_iftpp_density_normalises_and_nll_uses_it() -> None:
    rng = np.random.default_rng(1)
    log_w = np.log(rng.dirichlet(np.ones(4)))
    mu, log_s = rng.normal(0, 1, 4), rng.normal(-0.5, 0.3, 4)
    grid = np.exp(np.linspace(-12, 12, 200_001))
    density = lognormal_mixture_density(grid, log_w, mu, log_s, -1.0, 1.5)
    assert np.trapezoid(density, grid) == pytest.approx(1, abs=1e-6)
    model = IntensityFree(2, IntensityFreeConfig(hidden=8, n_components=3))
    model.log_mean, model.log_std = -0.5, 1.2
    seq = type("S", (), {"times": np.array([0.7]), "types": np.array([1])})()
    with torch.no_grad():
        nll = float(model.nll(pad_sequences([seq])))
        lw, m, ls, marks = (x.numpy() for x in model.net.heads(model.net.c0))
    p_tau = lognormal_mixture_density(np.array([0.7 + 1e-8]), lw, m, ls, -0.5, 1.2)[0]
    p_k = np.exp(marks - np.logaddexp.reduce(marks))[1]
    assert nll == pytest.approx(-np.log(p_tau * p_k), rel=1e-4)


def test_iftpp_sampler_draws_from_its_mixture(data) -> None:
    model = IntensityFree(2, IntensityFreeConfig(hidden=8, n_components=3, train_steps=20))
    model.fit(data["train"][:40], seed=0)
    batch = EventBatch.from_windows(make_windows(data["test"][:1], 1, 2))
    dt, types = model.sample(batch, 2, 5000, torch.Generator().manual_seed(0))
    assert dt.shape == (5000, 1, 2) and types.max() < 2
    with torch.no_grad():
        x = model.net.inputs(model._y(batch.hist_dt), batch.hist_types)
        h, _ = model.net.rnn(x)
        lw, m, ls, _ = (v.double().numpy() for v in model.net.heads(h[0, int(batch.lengths[0]) - 1]))

    def cdf(tau):
        y = (np.log(np.asarray(tau)[:, None] + 1e-8) - model.log_mean) / model.log_std
        return (np.exp(lw) * stats.norm.cdf((y - m) / np.exp(ls))).sum(-1)

    assert stats.kstest(dt[:, 0, 0].numpy(), cdf).pvalue > 1e-3


def test_iftpp_training_lowers_the_likelihood_loss(data) -> None:
    model = IntensityFree(2, IntensityFreeConfig(train_steps=60, batch_size=32))
    records = model.fit(data["train"], seed=0, dev=data["test"])
    with torch.no_grad():
        after = float(model.nll(pad_sequences(data["test"])))
    assert after < records[0]["nll"]


# --------------------------------------------------------------------------- CDiff


def _cdiff(data, **kw) -> tuple[CDiff, object]:
    windows = make_windows(data["train"][:40], 4, 2, max_history=16)
    cfg = CDiffConfig(n_steps=8, train_steps=4, batch_size=16, d_model=16, **kw)
    model = CDiff(2, 4, cfg)
    model.fit(windows, seed=0)
    return model, windows


def test_cdiff_trains_and_samples(data) -> None:
    model, windows = _cdiff(data)
    batch = EventBatch.from_windows(windows.subset(slice(0, 5)))
    loss, parts = model.loss(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and parts["loss_time"] > 0 and parts["loss_type"] > 0
    dt, types = model.sample(batch, 4, 3, torch.Generator().manual_seed(0))
    assert dt.shape == (3, 5, 4) and types.shape == (3, 5, 4)
    assert torch.all(dt > 0) and types.min() >= 0 and types.max() < 2
    with pytest.raises(ValueError, match="trained for N = 4"):
        model.sample(batch, 5, 1)


def test_cdiff_is_deterministic_given_seeds(data) -> None:
    (a, windows), (b, _) = _cdiff(data), _cdiff(data)
    batch = EventBatch.from_windows(windows.subset(slice(0, 6)))
    fa = a.forecast(batch, 4, 2, torch.Generator().manual_seed(5))
    fb = b.forecast(batch, 4, 2, torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(fa[0], fb[0])
    np.testing.assert_array_equal(fa[1], fb[1])


def test_cdiff_denoisers_see_each_other_and_respect_the_horizon_mask(data) -> None:
    for horizon_mask in ("none", "causal"):
        model, windows = _cdiff(data, horizon_mask=horizon_mask, dropout=0.0)
        net = model.net.eval()
        batch = EventBatch.from_windows(windows.subset(slice(0, 2)))
        with torch.no_grad():
            memory, pad = model._memory(batch)
            torch.nn.init.constant_(net.type_denoiser.gain, 1.0)  # ReZero starts at 0: open it for the check
            x, e, t = torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.long), torch.tensor([3, 3])
            e2 = e.clone()
            e2[:, 2] = 1  # change the other chain's state at position 2 only
            x2 = x.clone()
            x2[:, 2] = 1.5
            d_time = net.time_denoiser(x, e2, t, memory, pad) - net.time_denoiser(x, e, t, memory, pad)
            d_type = net.type_denoiser(x2, e, t, memory, pad) - net.type_denoiser(x, e, t, memory, pad)
        assert d_time[:, 2].abs().max() > 0 and d_type[:, 2].abs().max() > 0
        earlier_moves = d_time[:, :2].abs().max() > 0 and d_type[:, :2].abs().max() > 0
        assert earlier_moves == (horizon_mask == "none")


def test_cdiff_type_denoiser_starts_uniform_and_configs_validate(data) -> None:
    model = CDiff(2, 4, CDiffConfig(d_model=16))
    batch = EventBatch.from_windows(make_windows(data["train"][:3], 4, 2))
    model.scaler = BoxCoxStandardizer.fit(np.concatenate([s.gaps for s in data["train"]]))
    memory, pad = model._memory(batch)
    logits = model.net.type_denoiser(torch.zeros(3, 4), torch.zeros(3, 4, dtype=torch.long), torch.zeros(3).long(),
                                     memory, pad)
    assert torch.all(logits == 0)
    original = CDiffConfig.original()
    assert (original.condition_on, original.time_schedule, original.horizon_mask, original.lr_schedule) == (
        "clean", "linear_original", "causal", "cosine_cyclic")
    with pytest.raises(ValueError, match="condition_on"):
        CDiff(2, 4, CDiffConfig(condition_on="both"))
    model, _ = _cdiff(data, condition_on="clean", time_schedule="linear_original", lr_schedule="cosine_cyclic")
    assert model.cfg.condition_on == "clean"


def test_paper_cdiff_runs_the_originals_schedule_at_T200() -> None:
    """The headline CDiff's time chain against the original's formulas (time_diffusion_model.py), T = 200:
    β = linspace(1e-6, 1e-2, T) in float32, ᾱ = cumprod(1 − β); reverse step
    x ← √(1/α_i)(x − β_i/√(1 − ᾱ_i) ε̂) + √((1 − ᾱ_{i−1})/(1 − ᾱ_i) β_i) z."""
    model = CDiff(3, 5, CDiffConfig.original())
    assert model.cfg.n_steps == 200 and model.cfg.condition_on == "clean" and model.cfg.clip_x0 == 0
    beta = np.linspace(1e-6, 1e-2, 200, dtype=np.float32).astype(float)
    alpha_bar = np.cumprod(1 - beta)
    chain = model.times
    np.testing.assert_allclose(chain.betas.numpy(), beta, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(chain.alpha_bars.numpy(), alpha_bar, rtol=1e-6)
    assert alpha_bar[-1] == pytest.approx(0.3666, abs=1e-4)  # the chain never reaches N(0, I) (quirk 2)
    prev = np.concatenate([[1.0], alpha_bar[:-1]])
    x, eps = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    for i in (0, 1, 57, 199):
        t = torch.full((4,), i)
        want = np.sqrt(1 / (1 - beta[i])) * (x.numpy() - beta[i] / np.sqrt(1 - alpha_bar[i]) * eps.numpy())
        np.testing.assert_allclose(chain.p_mean(x, t, eps).numpy(), want, rtol=1e-6)
        sigma = np.sqrt((1 - prev[i]) / (1 - alpha_bar[i]) * beta[i])
        assert chain.posterior_var[i].sqrt().item() == pytest.approx(sigma, rel=1e-6, abs=1e-15)
    g = torch.Generator().manual_seed(0)  # the sampled step uses exactly that mean and σ (no x̂0 clipping)
    t = torch.full((4,), 57)
    z = torch.randn(4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    stepped = chain.p_sample(x, t, eps, g, None)
    want = chain.p_mean(x, t, eps) + chain.posterior_var[57].sqrt() * z
    torch.testing.assert_close(stepped, want)


def test_cdiff_boxcox_uses_the_configured_power_and_cutoff() -> None:
    """Taobao's original settings: scale (1/τ̄)^5.5, λ fitted by MLE on 0 < τ < 0.5 only."""
    rng = np.random.default_rng(0)
    gaps = np.concatenate([rng.lognormal(-3, 1, 400), rng.uniform(0.6, 2.0, 40), np.zeros(5)])
    fit = BoxCoxStandardizer.fit(gaps, 5.5, cutoff=0.5)
    scale = (1 / gaps.mean()) ** 5.5
    _, lam = stats.boxcox(scale * (gaps[(gaps > 0) & (gaps < 0.5)] + 1e-7))
    assert fit.scale == pytest.approx(scale) and fit.lam == pytest.approx(lam, rel=1e-6)
    default = BoxCoxStandardizer.fit(gaps, 5.5)  # cut-off τ̄ + σ_τ keeps some of the long gaps
    assert default.lam != pytest.approx(lam, rel=1e-3)
