"""The shared diffusion core: schedule end points, Gaussian and multinomial chains against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from agents.diffusion import GaussianDiffusion, MultinomialDiffusion, gumbel_argmax, make_schedule

# --------------------------------------------------------------------------- schedules


def test_schedule_end_points() -> None:
    """Spec §3: CDiff's time chain ends at ᾱ = 0.367 (T = 200) / 0.606 (T = 100); its type chain at 2.5e-4."""
    assert make_schedule("linear_original", 200).alpha_bars[-1].item() == pytest.approx(0.367, abs=5e-4)
    assert make_schedule("linear_original", 100).alpha_bars[-1].item() == pytest.approx(0.606, abs=1e-3)
    assert make_schedule("cosine_multinomial", 200).alpha_bars[-1].item() == pytest.approx(2.5e-4, rel=0.03)
    for T in (20, 50, 200, 1000):  # the principled chains reach pure noise at every length
        assert make_schedule("linear", T).alpha_bars[-1].item() < 1e-3
        assert make_schedule("cosine", T).alpha_bars[-1].item() < 1e-3
    for name in ("linear", "linear_original", "cosine", "cosine_multinomial"):
        s = make_schedule(name, 50)
        assert s.n_steps == 50 and s.alpha_bars_prev[0].item() == 1.0
        assert torch.all(s.alphas > 0) and torch.all(s.alphas <= 1)
        assert torch.all(torch.diff(s.alpha_bars) <= 0) and s.alpha_bars[0].item() > 0.97
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("quadratic", 10)


# --------------------------------------------------------------------------- Gaussian chain


def test_gaussian_forward_marginal_moments() -> None:
    d = GaussianDiffusion(make_schedule("linear", 50))
    t = torch.full((200_000,), 20)
    g = torch.Generator().manual_seed(0)
    x = d.q_sample(torch.full((200_000,), 2.0), t, torch.randn(200_000, generator=g))
    ab = d.alpha_bars[20].item()
    assert x.mean().item() == pytest.approx(2 * ab ** 0.5, abs=0.01)
    assert x.var().item() == pytest.approx(1 - ab, rel=0.02)


def test_gaussian_posterior_is_bayes_rule_and_eps_mean_agrees() -> None:
    d = GaussianDiffusion(make_schedule("cosine", 30))
    x0, xt = torch.tensor([0.7, -1.2, 2.0]), torch.tensor([0.1, 0.4, -0.3])
    t = torch.tensor([0, 7, 29])
    mean, var = d.q_posterior(x0, xt, t)
    for i, ti in enumerate(t.tolist()):
        a, b = d.alphas[ti].item(), d.betas[ti].item()
        ab_prev = d.alpha_bars_prev[ti].item()
        if ti == 0:  # the previous state is the data itself
            assert mean[i].item() == pytest.approx(x0[i].item(), abs=2e-5) and var[i].item() == 0.0
            continue
        prec = 1 / (1 - ab_prev) + a / b
        want = (ab_prev ** 0.5 * x0[i].item() / (1 - ab_prev) + a ** 0.5 * xt[i].item() / b) / prec
        assert mean[i].item() == pytest.approx(want, rel=1e-5) and var[i].item() == pytest.approx(1 / prec, rel=1e-5)
    eps = (xt - d.alpha_bars[t].float().sqrt() * x0) / (1 - d.alpha_bars[t].float()).sqrt()
    torch.testing.assert_close(d.p_mean(xt, t, eps), mean, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("clip", [None, 10.0])
def test_gaussian_reverse_chain_with_exact_noise_recovers_the_data(clip) -> None:
    d = GaussianDiffusion(make_schedule("linear", 40))
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(8, 5, generator=g)
    x = d.prior_sample((8, 5), g)
    for step in reversed(range(40)):
        t = torch.full((8,), step)
        ab = d.alpha_bars[step].float()
        x = d.p_sample(x, t, (x - ab.sqrt() * x0) / (1 - ab).sqrt(), g, clip_x0=clip)
    torch.testing.assert_close(x, x0, atol=1e-4, rtol=0)
    assert GaussianDiffusion.loss(torch.ones(2, 3), torch.zeros(2, 3), "l1").tolist() == [3.0, 3.0]
    assert GaussianDiffusion.loss(2 * torch.ones(2, 3), torch.zeros(2, 3), "l2").tolist() == [12.0, 12.0]


# --------------------------------------------------------------------------- categorical chain


def _transition(a: float, K: int) -> np.ndarray:
    return a * np.eye(K) + (1 - a) / K * np.ones((K, K))


def test_gumbel_argmax_samples_the_given_distribution() -> None:
    p = torch.tensor([0.1, 0.6, 0.3])
    draws = gumbel_argmax(p.log().expand(60_000, 3), torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=3).numpy()
    assert stats.chisquare(counts, 60_000 * p.numpy()).pvalue > 1e-3


def test_multinomial_marginal_and_posterior_match_transition_matrices() -> None:
    K, T = 4, 12
    d = MultinomialDiffusion(make_schedule("cosine_multinomial", T), K)
    alphas = d.schedule.alphas.numpy()
    e0 = torch.tensor([2])
    for t in (0, 5, T - 1):
        Qbar = np.linalg.multi_dot([_transition(a, K) for a in alphas[:t + 1]] + [np.eye(K)])
        marg = d.log_q_marginal(d.log_onehot(e0), torch.tensor([t])).exp().numpy()[0]
        np.testing.assert_allclose(marg, Qbar[2], atol=1e-6)
    for t, et in ((4, 1), (4, 2), (0, 3)):
        prev = np.eye(K)[2] if t == 0 else np.linalg.multi_dot(
            [_transition(a, K) for a in alphas[:t]] + [np.eye(K)])[2]
        bayes = _transition(alphas[t], K)[:, et] * prev
        got = d.log_posterior(d.log_onehot(e0), d.log_onehot(torch.tensor([et])), torch.tensor([t])).exp()
        np.testing.assert_allclose(got.numpy()[0], bayes / bayes.sum(), atol=1e-6)


def test_multinomial_forward_samples_follow_the_marginal() -> None:
    d = MultinomialDiffusion(make_schedule("cosine_multinomial", 20), 3)
    e0 = torch.zeros(30_000, dtype=torch.long)
    t = torch.full((30_000,), 14)
    counts = torch.bincount(d.q_sample(e0, t, torch.Generator().manual_seed(2)), minlength=3).numpy()
    want = d.log_q_marginal(d.log_onehot(e0[:1]), t[:1]).exp().double().numpy()[0]
    assert stats.chisquare(counts, counts.sum() * want / want.sum()).pvalue > 1e-3


def test_multinomial_reverse_chain() -> None:
    K, T, B = 3, 15, 600
    d = MultinomialDiffusion(make_schedule("cosine_multinomial", T), K)
    g = torch.Generator().manual_seed(3)
    target = torch.randint(0, K, (B, 4), generator=g)
    perfect = 50.0 * torch.nn.functional.one_hot(target, K).float()
    e = d.prior_sample((B, 4), g)
    uniform = e.clone()
    for step in reversed(range(T)):
        t = torch.full((B,), step)
        e = d.p_sample(perfect, e, t, g)
        uniform = d.p_sample(torch.zeros(B, 4, K), uniform, t, g)
    assert torch.equal(e, target)  # a perfect ê_0 lands on the data
    counts = torch.bincount(uniform.flatten(), minlength=K).numpy()  # an uninformed ê_0 stays uniform
    assert stats.chisquare(counts).pvalue > 1e-3


def test_multinomial_loss_terms() -> None:
    K, T = 3, 10
    d = MultinomialDiffusion(make_schedule("cosine_multinomial", T), K)
    e0 = torch.tensor([[0, 2], [1, 1]])
    t = torch.tensor([4, 0])
    e_t = d.q_sample(e0, t, torch.Generator().manual_seed(0))
    prior = d.log_q_marginal(d.log_onehot(e0), torch.full((2,), T - 1)).exp()
    kl_prior = (prior * (prior.log() + np.log(K))).sum(-1).sum(-1)
    perfect = d.loss(60.0 * torch.nn.functional.one_hot(e0, K).float(), e0, e_t, t, bits=False)
    torch.testing.assert_close(perfect, kl_prior, atol=1e-4, rtol=1e-4)  # only the prior term is left
    logits = torch.zeros(2, 2, K, requires_grad=True)
    loss = d.loss(logits, e0, e_t, t)
    assert torch.all(loss > perfect / np.log(2))
    loss.sum().backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
