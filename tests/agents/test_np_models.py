"""CMAB/CMANP: the streaming update is exact (any block size and order), memory does not grow with N (measured
allocation), baselines' shapes and contracts, and linear Thompson sampling's posterior against a closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from agents.neural_processes import (ANP, CMANP, CMANPAND, CNP, MODELS, TNPD, Attention, LinearThompsonSampling,
                                     NPThompsonSampling)
from agents.neural_processes.memory import peak_tensor_bytes

SMALL = dict(dim=32, dim_ff=64, num_layers=2, num_latents=8, num_latents_per_layer=8)


def small_model(name: str, dim_x: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    if name in ("cmanp", "cmanp_and"):
        return MODELS[name](dim_x=dim_x, **SMALL)
    if name == "tnpd":
        return TNPD(dim_x=dim_x, dim=32, dim_ff=64, num_layers=2)
    return MODELS[name](dim_x=dim_x, dim=32)


def data(b: int = 3, n: int = 37, m: int = 11, dim_x: int = 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, k, d, generator=g, dtype=dtype) for k, d in [(n, dim_x), (n, 1), (m, dim_x), (m, 1)]]


@pytest.mark.parametrize("block", [1, 3, 10, 37])
def test_streamed_attention_equals_softmax_attention(block) -> None:
    torch.manual_seed(0)
    attn = Attention(16, heads=4).double()
    q, ctx = torch.randn(1, 5, 16, dtype=torch.float64), torch.randn(2, 37, 16, dtype=torch.float64)
    state = attn.empty_state(2, 5, ctx)
    order = torch.randperm(37)  # any order: attention is permutation invariant in the context
    for start in range(0, 37, block):
        state = attn.update(q, ctx[:, order[start:start + block]], state)
    split = lambda t: t.unflatten(-1, (4, 4)).transpose(1, 2)  # noqa: E731
    k, v = attn.to_kv(ctx).chunk(2, -1)
    reference = F.scaled_dot_product_attention(split(attn.to_q(q)).expand(2, -1, -1, -1), split(k), split(v))
    torch.testing.assert_close(state.output, reference, rtol=0, atol=1e-12)
    logits = split(attn.to_q(q)) @ split(k).transpose(-2, -1) / 2.0
    torch.testing.assert_close(state.log_norm[..., 0], torch.logsumexp(logits, -1), rtol=0, atol=1e-12)
    torch.testing.assert_close(attn.project_out(state), attn(q.expand(2, -1, -1), ctx), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_cmanp_streaming_equals_full_conditioning(dtype, tol) -> None:
    model = small_model("cmanp").to(dtype).eval()
    xc, yc, xt, _ = data(dtype=dtype)
    with torch.no_grad():
        full = model.predict(model.condition(xc, yc), xt)
        perm = torch.randperm(37, generator=torch.Generator().manual_seed(2))
        streamed = model.condition(xc[:, perm[:5]], yc[:, perm[:5]], block_size=2)
        for start in range(5, 37, 7):  # model.update with new points, in a shuffled order
            idx = perm[start:start + 7]
            streamed = model.update(streamed, xc[:, idx], yc[:, idx], block_size=3)
        pred = model.predict(streamed, xt)
    assert streamed.num_points == 37
    torch.testing.assert_close(pred.mean, full.mean, rtol=0, atol=tol)
    torch.testing.assert_close(pred.stddev, full.stddev, rtol=tol, atol=tol)


def test_cmanp_conditioning_memory_is_flat_in_n_and_tnp_grows() -> None:
    """Measured allocation (not time): CMANP's peak is the same at N = 400 and 3,200; TNP-D's grows ~linearly."""
    cmanp = CMANP(**SMALL, block_size=64).eval()
    tnp = TNPD(dim=32, dim_ff=64, num_layers=2).eval()
    xt = torch.randn(1, 10, 1)
    peaks = {}
    for n in (400, 3200):
        xc, yc = torch.randn(1, n, 1), torch.randn(1, n, 1)
        with torch.no_grad():
            peaks["cmanp", n] = peak_tensor_bytes(lambda: cmanp.predict(cmanp.condition(xc, yc), xt))
            peaks["tnpd", n] = peak_tensor_bytes(lambda: tnp.predict(tnp.condition(xc, yc), xt))
    assert peaks["cmanp", 3200] == peaks["cmanp", 400] > 0
    assert peaks["tnpd", 3200] > 6 * peaks["tnpd", 400]


def test_peak_tensor_bytes_counts_live_storage() -> None:
    def two_alive():
        a = torch.ones(1000)  # 4,000 bytes
        b = torch.ones(500, dtype=torch.float64)  # 4,000 bytes, both alive
        return a.sum() + b.sum()

    def one_at_a_time():
        for _ in range(3):
            torch.ones(1000).sum()

    assert peak_tensor_bytes(two_alive) >= 8000
    assert 4000 <= peak_tensor_bytes(one_at_a_time) < 8000


@pytest.mark.parametrize("name", list(MODELS))
def test_models_shapes_and_update_contract(name) -> None:
    model = small_model(name, dim_x=2).float().eval()
    xc, yc, xt, yt = data(b=2, n=9, m=4, dim_x=2, dtype=torch.float32)
    with torch.no_grad():
        pred = model(xc, yc, xt)
        assert pred.mean.shape == (2, 4, 1) and (pred.stddev > 0).all()
        assert model.target_log_likelihood(xc, yc, xt, yt).shape == (2,)
        ctx = model.update(model.condition(xc[:, :4], yc[:, :4]), xc[:, 4:], yc[:, 4:])
        torch.testing.assert_close(model.predict(ctx, xt).mean, pred.mean, rtol=1e-4, atol=1e-5)
    model.train()
    loss = model.loss(xc, yc, xt, yt)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_cmanp_and_autoregressive_blocks() -> None:
    """One AND block = the joint likelihood / M; smaller blocks condition on the earlier blocks' true values."""
    model = small_model("cmanp_and").double().eval()
    xc, yc, xt, yt = data(b=2, n=8, m=6)
    with torch.no_grad():
        joint = model.joint(model.condition(xc, yc), xt).log_prob(yt.flatten(1)) / 6
        torch.testing.assert_close(model.target_log_likelihood(xc, yc, xt, yt), joint)
        model.and_block_size = 4
        first = model.joint(model.condition(xc, yc), xt[:, :4]).log_prob(yt[:, :4].flatten(1))
        ctx = model.condition(torch.cat([xc, xt[:, :4]], 1), torch.cat([yc, yt[:, :4]], 1))
        second = model.joint(ctx, xt[:, 4:]).log_prob(yt[:, 4:].flatten(1))
        torch.testing.assert_close(model.target_log_likelihood(xc, yc, xt, yt), (first + second) / 6)


def test_baselines_are_permutation_invariant_in_the_context() -> None:
    xc, yc, xt, _ = data(dtype=torch.float32)
    perm = torch.randperm(37)
    for model in (small_model("cnp"), small_model("anp"), small_model("tnpd")):
        with torch.no_grad():
            torch.testing.assert_close(model(xc, yc, xt).mean, model(xc[:, perm], yc[:, perm], xt).mean,
                                       rtol=1e-4, atol=1e-5)
    assert isinstance(small_model("cnp"), CNP) and isinstance(small_model("anp"), ANP)
    assert isinstance(small_model("cmanp_and"), CMANPAND)


def test_linear_thompson_posterior_matches_closed_form() -> None:
    rng = np.random.default_rng(0)
    agent = LinearThompsonSampling(n_arms=2, dim_context=2, rng=rng)
    x = rng.normal(size=(200, 2))
    beta = np.array([1.5, -2.0, 0.3])
    r = np.c_[x, np.ones(200)] @ beta + 0.1 * rng.normal(size=200)
    for xi, ri in zip(x, r):
        agent.observe(xi, 1, ri)
    mean, cov, a, b = agent.posterior()
    phi = np.c_[x, np.ones(200)]
    ridge = np.linalg.solve(0.25 * np.eye(3) + phi.T @ phi, phi.T @ r)
    np.testing.assert_allclose(mean[1], ridge, rtol=1e-10)
    np.testing.assert_allclose(mean[0], 0.0)
    assert a[1] == 6 + 100 and b[1] == pytest.approx(6 + 0.5 * (r @ r - ridge @ phi.T @ r))
    picks = [agent.act(np.array([1.0, -1.0])) for _ in range(50)]  # arm 1 ≈ 3.8 vs the prior's 0 ± ~1
    assert np.mean(np.array(picks) == 1) > 0.8


def test_np_thompson_streams_every_observation() -> None:
    model = CMANP(dim_x=7, **SMALL)
    agent = NPThompsonSampling(model, n_arms=5, dim_context=2, rng=np.random.default_rng(0))
    x = np.array([0.2, -0.3])
    assert agent.num_observations == 0 and 0 <= agent.act(x) < 5
    for t in range(3):
        agent.observe(x, t, 1.0)
    assert agent.num_observations == 3 and len(agent.context.states) == 2
    assert agent.context.states[0].output.shape == (1, 4, 8, 8)  # (B, H, L_C, d_h): independent of N
    assert 0 <= agent.act(x) < 5
