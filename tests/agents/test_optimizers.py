"""SAM, ASAM, Multistep-SAM, Lookahead and Lookbehind against hand-derived updates and each other."""

from __future__ import annotations

import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import numpy as np

from agents.optimizers import (
    SAM,
    Lookahead,
    Lookbehind,
    MultistepSAM,
    asam_param_groups,
    first_pass_stats_only,
    frozen_running_stats,
)
from agents.optimizers.probes import hessian_top_eigenvalue, rho_ball_sharpness, weight_noise_accuracy

SGD = torch.optim.SGD


# ---------------------------------------------------------------- a quadratic L(w) = ½ wᵀAw − bᵀw, ∇L = Aw − b
A = torch.tensor([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 2.0]], dtype=torch.float64)
B = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
W0 = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)


def grad(w: torch.Tensor) -> torch.Tensor:
    return A @ w - B


def quad_closure(w: torch.nn.Parameter):
    def closure() -> torch.Tensor:
        loss = 0.5 * w @ A @ w - B @ w
        loss.backward()
        return loss
    return closure


def sam_eps(g: torch.Tensor, rho: float) -> torch.Tensor:
    return rho * g / (g.norm() + 1e-12)


def test_sam_step_on_quadratic_matches_hand_derived_update() -> None:
    lr, rho = 0.1, 0.3
    expected = W0 - lr * grad(W0 + sam_eps(grad(W0), rho))  # w ← w − η ∇L(w + ρ g/‖g‖)
    for form in ("closure", "two-call"):
        w = nn.Parameter(W0.clone())
        opt = SAM([w], SGD, rho=rho, lr=lr)
        if form == "closure":
            opt.zero_grad(set_to_none=True)
            loss = opt.step(quad_closure(w))
            assert loss.item() == pytest.approx((0.5 * W0 @ A @ W0 - B @ W0).item())  # loss at unperturbed w
        else:
            quad_closure(w)()
            opt.first_step(zero_grad=True)
            quad_closure(w)()
            opt.second_step(zero_grad=True)
        torch.testing.assert_close(w.detach(), expected, rtol=0, atol=1e-12)


def test_asam_perturbation_formula_and_per_group_flags() -> None:
    """ε = ρ T² g / ‖T g‖ with T = |w| + η on adaptive groups, T = 1 elsewhere; one global norm."""
    rho, eta = 0.5, 0.01
    w = nn.Parameter(torch.tensor([0.5, -2.0, 0.1], dtype=torch.float64))
    b = nn.Parameter(torch.tensor([0.3, -0.4], dtype=torch.float64))
    gw, gb = torch.tensor([1.0, 0.5, -3.0], dtype=torch.float64), torch.tensor([0.2, 0.7], dtype=torch.float64)
    w0, b0 = w.detach().clone(), b.detach().clone()
    opt = SAM([{"params": [w]}, {"params": [b], "adaptive": False}], SGD, rho=rho, adaptive=True, eta=eta, lr=0.1)
    w.grad, b.grad = gw.clone(), gb.clone()
    opt.first_step()
    t = w0.abs() + eta
    norm = torch.cat([t * gw, gb]).norm()
    torch.testing.assert_close(w.detach() - w0, rho * t**2 * gw / norm, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(b.detach() - b0, rho * gb / norm, rtol=1e-12, atol=1e-15)


def test_param_groups_with_different_lr_and_rho() -> None:
    w1, w2 = nn.Parameter(W0[:2].clone()), nn.Parameter(W0[2:].clone())
    opt = SAM([{"params": [w1], "lr": 0.1}, {"params": [w2], "lr": 0.01, "rho": 0.2}], SGD, rho=0.05, lr=1.0)

    def closure() -> torch.Tensor:
        w = torch.cat([w1, w2])
        loss = 0.5 * w @ A @ w - B @ w
        loss.backward()
        return loss

    opt.zero_grad(set_to_none=True)
    opt.step(closure)
    g = grad(W0)
    eps = torch.cat([0.05 * g[:2], 0.2 * g[2:]]) / (g.norm() + 1e-12)  # per-group ρ, global ‖g‖
    g_adv = grad(W0 + eps)
    torch.testing.assert_close(w1.detach(), W0[:2] - 0.1 * g_adv[:2], rtol=0, atol=1e-12)
    torch.testing.assert_close(w2.detach(), W0[2:] - 0.01 * g_adv[2:], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- a small classifier for exact comparisons
X = torch.randn(48, 5, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 3, (48,), generator=torch.Generator().manual_seed(1))


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def train(model: nn.Module, opt: torch.optim.Optimizer, steps: int, start: int = 0) -> torch.Tensor:
    for s in range(start, start + steps):
        xb, yb = X[(s * 16) % 48:][:16], Y[(s * 16) % 48:][:16]

        def closure() -> torch.Tensor:
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            return loss

        opt.zero_grad(set_to_none=True)
        opt.step(closure)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


BASE = [(SGD, dict(lr=0.1, momentum=0.9, weight_decay=5e-4)), (torch.optim.Adam, dict(lr=0.01))]


def trained(make, steps: int = 6) -> torch.Tensor:
    """Parameters after ``steps`` updates of a fresh ``net()`` with the optimiser ``make(params)``."""
    model = net()
    return train(model, make(model.parameters()), steps)


@pytest.mark.parametrize(("base", "kwargs"), BASE)
def test_rho_zero_sam_equals_its_base_optimizer(base, kwargs) -> None:
    ref = trained(lambda p: base(p, **kwargs))
    for adaptive in (False, True):
        got = trained(lambda p: SAM(p, base, rho=0.0, adaptive=adaptive, **kwargs))
        assert torch.equal(got, ref)


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("alpha", [1.0, "adaptive"])
def test_lookbehind_k1_alpha1_equals_sam_exactly(adaptive, alpha) -> None:
    kw = dict(rho=0.1, adaptive=adaptive, lr=0.1, momentum=0.9, weight_decay=5e-4)
    ref = trained(lambda p: SAM(p, SGD, **kw))
    got = trained(lambda p: Lookbehind(p, SGD, k=1, alpha=alpha, **kw))
    assert torch.equal(got, ref)


def test_multistep_k1_equals_sam_and_lookahead_k1_alpha1_equals_base() -> None:
    kw = dict(rho=0.1, lr=0.1, momentum=0.9)
    ref = trained(lambda p: SAM(p, SGD, **kw))
    multistep = trained(lambda p: MultistepSAM(p, SGD, k=1, **kw))
    lookahead = trained(lambda p: Lookahead(SAM(p, SGD, **kw), k=1, alpha=1.0))
    assert torch.equal(multistep, ref) and torch.equal(lookahead, ref)
    ref = trained(lambda p: torch.optim.Adam(p, lr=0.01))
    assert torch.equal(trained(lambda p: Lookahead(torch.optim.Adam(p, lr=0.01), k=1, alpha=1.0)), ref)


def lookbehind_by_hand(w0: torch.Tensor, rho: float, lr: float, k: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Spec §2 with plain SGD: returns the fast weights φ_{t,1..k} and the last perturbed point."""
    pert, fast, fasts = w0.clone(), w0.clone(), []
    for _ in range(k):
        pert = pert + sam_eps(grad(pert), rho)  # ascent chain anchored at the slow weights
        fast = fast - lr * grad(pert)  # descent on fast weights, gradient at the perturbed point
        fasts.append(fast)
    return fasts, pert


@pytest.mark.parametrize("alpha", [0.5, "adaptive"])
def test_lookbehind_k2_on_quadratic_matches_hand_derived_update(alpha) -> None:
    rho, lr, k = 0.3, 0.1, 2
    fasts, _ = lookbehind_by_hand(W0, rho, lr, k)
    d1, dk = fasts[0] - W0, fasts[-1] - W0
    a = 0.5 if alpha == 0.5 else ((1 + d1 @ dk / (d1.norm() * dk.norm())) / 2).item()
    expected = W0 + a * (fasts[-1] - W0)
    for form in ("closure", "two-call"):
        w = nn.Parameter(W0.clone())
        opt = Lookbehind([w], SGD, rho=rho, k=k, alpha=alpha, lr=lr)
        if form == "closure":
            opt.zero_grad(set_to_none=True)
            opt.step(quad_closure(w))
        else:
            for _ in range(k):
                quad_closure(w)()
                opt.first_step(zero_grad=True)
                quad_closure(w)()
                opt.second_step(zero_grad=True)
        torch.testing.assert_close(w.detach(), expected, rtol=0, atol=1e-12)
        assert opt.counter == 0 and "slow" not in opt.state[w]


def test_lookbehind_adaptive_alpha_per_tensor_vs_global() -> None:
    rho, lr, k = 0.3, 0.1, 3
    fasts, _ = lookbehind_by_hand(W0, rho, lr, k)
    d1, dk = fasts[0] - W0, fasts[-1] - W0
    parts = [slice(0, 2), slice(2, 3)]
    per = [((1 + d1[s] @ dk[s] / (d1[s].norm() * dk[s].norm())) / 2).item() for s in parts]
    glob = ((1 + d1 @ dk / (d1.norm() * dk.norm())) / 2).item()
    for mode, alphas in [("per_tensor", per), ("global", [glob, glob])]:
        w1, w2 = nn.Parameter(W0[:2].clone()), nn.Parameter(W0[2:].clone())
        opt = Lookbehind([w1, w2], SGD, rho=rho, k=k, alpha=-1, alpha_mode=mode, lr=lr)

        def closure() -> torch.Tensor:
            w = torch.cat([w1, w2])
            loss = 0.5 * w @ A @ w - B @ w
            loss.backward()
            return loss

        opt.zero_grad(set_to_none=True)
        opt.step(closure)
        for p, s, a in zip((w1, w2), parts, alphas):
            torch.testing.assert_close(p.detach(), W0[s] + a * dk[s], rtol=0, atol=1e-12)
        assert opt.last_alphas == pytest.approx(alphas if mode == "per_tensor" else [glob])


# ---------------------------------------------------------------- adaptive α with small updates
def clamped_cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-8) -> float:
    """cos∠(a, b) with each norm clamped at eps on its own (torch.nn.CosineSimilarity's definition)."""
    return float(a.ravel() @ b.ravel() / (max(np.linalg.norm(a), eps) * max(np.linalg.norm(b), eps)))


def lookbehind_alphas_numpy(w0, targets, curv, rho, lr, k, mode):
    """Lookbehind-SAM with plain SGD on L = Σ_j ½ c_j ‖w_j − b_j‖², in numpy: (new weights, α's)."""
    grad_of = lambda ws: [c * (w - b) for w, b, c in zip(ws, targets, curv)]  # noqa: E731
    pert, fast, first = [w.copy() for w in w0], [w.copy() for w in w0], None
    for i in range(k):
        g = grad_of(pert)
        norm = np.sqrt(sum((gi**2).sum() for gi in g))
        pert = [p + rho * gi / (norm + 1e-12) for p, gi in zip(pert, g)]
        fast = [f - lr * gi for f, gi in zip(fast, grad_of(pert))]
        first = [f.copy() for f in fast] if i == 0 else first
    d1 = [f - w for f, w in zip(first, w0)]
    dk = [f - w for f, w in zip(fast, w0)]
    if mode == "global":
        alphas = [(1 + clamped_cosine(np.concatenate([d.ravel() for d in d1]),
                                      np.concatenate([d.ravel() for d in dk]))) / 2] * len(w0)
    else:
        alphas = [(1 + clamped_cosine(a, b)) / 2 for a, b in zip(d1, dk)]
    return [w + a * d for w, a, d in zip(w0, alphas, dk)], alphas


@pytest.mark.parametrize("mode", ["per_tensor", "global"])
def test_adaptive_alpha_with_small_updates_clamps_each_norm(mode) -> None:
    """lr = 1e-5: ‖d1‖, ‖dk‖ ≈ 1e-5 for two tensors (product 1e-10 < eps) and ≈ 1e-9 for the third (each
    norm below eps). A cosine whose eps clamps the product would give α ≈ 0.5 for the first two."""
    rng = np.random.default_rng(0)
    shapes, curv = [(3,), (2, 2), (2,)], [1.0, 2.0, 1e-4]
    w0 = [rng.normal(size=s) for s in shapes]
    targets = [rng.normal(size=s) + 1.0 for s in shapes]
    rho, lr, k = 0.05, 1e-5, 2
    expected, alphas = lookbehind_alphas_numpy(w0, targets, curv, rho, lr, k, mode)
    params = [nn.Parameter(torch.tensor(w)) for w in w0]
    opt = Lookbehind(params, SGD, rho=rho, k=k, alpha="adaptive", alpha_mode=mode, lr=lr)

    def closure() -> torch.Tensor:
        loss = sum(0.5 * c * ((p - torch.tensor(b)) ** 2).sum() for p, b, c in zip(params, targets, curv))
        loss.backward()
        return loss

    opt.zero_grad(set_to_none=True)
    opt.step(closure)
    if mode == "per_tensor":
        assert alphas[0] > 0.99 and alphas[1] > 0.99 and 0.5 < alphas[2] < 0.6  # both regimes exercised
    assert opt.last_alphas == pytest.approx(alphas if mode == "per_tensor" else alphas[:1], rel=1e-9, abs=1e-12)
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.detach(), torch.tensor(e), rtol=0, atol=1e-15)


def test_clamped_cosine_reference_agrees_with_torch() -> None:
    rng = np.random.default_rng(1)
    for scale in (1.0, 1e-5, 1e-9, 0.0):
        a, b = rng.normal(size=7) * scale, rng.normal(size=7) * scale
        got = F.cosine_similarity(torch.tensor(a), torch.tensor(b), dim=0).item()
        assert got == pytest.approx(clamped_cosine(a, b), rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------- ASAM's official rule by parameter name
def linear_bn(values: dict[str, list]) -> nn.Module:
    model = nn.Sequential(nn.Linear(2, 1), nn.BatchNorm1d(1)).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.tensor(values[name], dtype=torch.float64).reshape(p.shape))
    return model


W_VALUES = {"0.weight": [1.0, -2.0], "0.bias": [0.5], "1.weight": [2.0], "1.bias": [0.0]}
G_VALUES = {"0.weight": [0.5, 0.25], "0.bias": [1.5], "1.weight": [-0.5], "1.bias": [0.5]}


@pytest.mark.parametrize("make", [
    lambda g: SAM(g, SGD, rho=0.5, adaptive=True, eta=0.0, lr=0.1),
    lambda g: Lookbehind(g, SGD, rho=0.5, adaptive=True, eta=0.0, k=2, alpha=-1, lr=0.1),
    lambda g: MultistepSAM(g, SGD, rho=0.5, adaptive=True, eta=0.0, k=2, lr=0.1),
])
def test_asam_official_rule_on_linear_bias_and_batchnorm(make) -> None:
    """T = |w| for 0.weight and the BN scale 1.weight, T = 1 for both biases; ρ = 0.5, η = 0.

    ‖T g‖² = (1·0.5)² + (2·0.25)² + 1.5² + (2·(−0.5))² + 0.5² = 4, so ρ/‖T g‖ = 0.25 and ε = 0.25 T² g:
    0.weight: 0.25·[1·0.5, 4·0.25] = [0.125, 0.25];  0.bias: 0.25·1.5 = 0.375;
    1.weight: 0.25·4·(−0.5) = −0.5;  1.bias: 0.25·0.5 = 0.125 (the "all" rule would leave it at 0).
    """
    expected = {"0.weight": [0.125, 0.25], "0.bias": [0.375], "1.weight": [-0.5], "1.bias": [0.125]}
    model = linear_bn(W_VALUES)
    opt = make(asam_param_groups(model.named_parameters(), "official"))
    for name, p in model.named_parameters():
        p.grad = torch.tensor(G_VALUES[name], dtype=torch.float64).reshape(p.shape)
    opt.first_step()
    for name, p in model.named_parameters():
        eps = p.detach().flatten() - torch.tensor(W_VALUES[name], dtype=torch.float64)
        torch.testing.assert_close(eps, torch.tensor(expected[name], dtype=torch.float64), rtol=1e-10, atol=0)


def test_asam_all_rule_rescales_every_tensor() -> None:
    eta, rho = 0.1, 0.5
    model = linear_bn(W_VALUES)
    groups = asam_param_groups(model.named_parameters(), "all")
    assert len(groups) == 1 and groups[0]["adaptive"]
    opt = SAM(groups, SGD, rho=rho, adaptive=True, eta=eta, lr=0.1)
    for name, p in model.named_parameters():
        p.grad = torch.tensor(G_VALUES[name], dtype=torch.float64).reshape(p.shape)
    opt.first_step()
    t = {n: np.abs(np.array(W_VALUES[n])) + eta for n in W_VALUES}
    norm = np.sqrt(sum(((t[n] * np.array(G_VALUES[n])) ** 2).sum() for n in W_VALUES))
    for name, p in model.named_parameters():
        eps = p.detach().flatten().numpy() - np.array(W_VALUES[name])
        np.testing.assert_allclose(eps, rho * t[name] ** 2 * np.array(G_VALUES[name]) / norm, rtol=1e-10)


def test_asam_param_groups_splits_by_name_and_rejects_bad_input() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 1))
    groups = asam_param_groups(model.named_parameters(), "official", eta=0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert [[names[id(p)] for p in g["params"]] for g in groups] == [
        ["0.weight", "1.weight", "3.weight"], ["0.bias", "1.bias", "3.bias"]]
    assert [g["adaptive"] for g in groups] == [True, False] and all(g["eta"] == 0.01 for g in groups)
    with pytest.raises(ValueError, match="rule"):
        asam_param_groups(model.named_parameters(), "weights")
    with pytest.raises(ValueError, match="named_params"):
        asam_param_groups(model.parameters())
    with pytest.raises(ValueError, match="eta"):
        SAM(model.parameters(), SGD, adaptive=True, eta=-1.0, lr=0.1)


# ---------------------------------------------------------------- BatchNorm running statistics
def bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3))


def bn_buffers(model: nn.Module) -> list[torch.Tensor]:
    return [b.detach().clone() for b in model.buffers()]


def test_frozen_running_stats_keeps_buffers_and_batch_statistics() -> None:
    model, ref = bn_net(), bn_net()
    before = bn_buffers(model)
    with frozen_running_stats(model):
        out = model(X)
        with frozen_running_stats(model):  # nesting is harmless
            model(X)
    assert all(torch.equal(a, b) for a, b in zip(bn_buffers(model), before))  # incl. num_batches_tracked
    assert torch.equal(out, ref(X))  # still normalised with the batch's own statistics
    assert model[1].track_running_stats
    model(X)  # outside the block the stats move again
    assert model[1].num_batches_tracked.item() == 1
    with pytest.raises(ValueError, match="model"):
        first_pass_stats_only(object(), lambda: None)


BN_FACTORIES = {
    "sam": (lambda p: SAM(p, SGD, rho=0.1, lr=0.1, momentum=0.9), 2),
    "asam": (lambda p: SAM(p, SGD, rho=0.5, adaptive=True, lr=0.1), 2),
    "multistep": (lambda p: MultistepSAM(p, SGD, rho=0.1, k=2, lr=0.1), 3),
    "lookahead_sam": (lambda p: Lookahead(SAM(p, SGD, rho=0.1, lr=0.1), k=2), 2),
    "lookbehind": (lambda p: Lookbehind(p, SGD, rho=0.1, k=2, alpha=-1, lr=0.1), 4),
}


@pytest.mark.parametrize("name", list(BN_FACTORIES))
def test_running_stats_come_from_the_unperturbed_pass_only(name) -> None:
    make, passes = BN_FACTORIES[name]
    first_only = bn_net()
    ref = bn_net()
    ref(X)  # the stats after one training-mode pass at the initial (unperturbed) weights

    def closure_for(model):
        def closure() -> torch.Tensor:
            loss = F.cross_entropy(model(X), Y)
            loss.backward()
            return loss
        return closure

    opt = make(first_only.parameters())
    opt.zero_grad(set_to_none=True)
    opt.step(first_pass_stats_only(first_only, closure_for(first_only)))
    assert all(torch.equal(a, b) for a, b in zip(bn_buffers(first_only), bn_buffers(ref)))
    assert first_only[1].num_batches_tracked.item() == 1

    every = bn_net()  # without the wrapper every pass moves them: the check above bites
    opt = make(every.parameters())
    opt.zero_grad(set_to_none=True)
    opt.step(closure_for(every))
    assert every[1].num_batches_tracked.item() == passes
    assert not torch.equal(every[1].running_mean, ref[1].running_mean)
    # freezing the statistics does not change the update itself (training mode uses batch statistics)
    assert all(torch.equal(a, b) for a, b in zip(first_only.parameters(), every.parameters()))


def test_two_call_form_with_frozen_running_stats() -> None:
    model, ref = bn_net(), bn_net()
    ref(X)
    opt = SAM(model.parameters(), SGD, rho=0.1, lr=0.1)
    F.cross_entropy(model(X), Y).backward()
    opt.first_step(zero_grad=True)
    with frozen_running_stats(model):
        F.cross_entropy(model(X), Y).backward()
        opt.second_step(zero_grad=True)
    assert all(torch.equal(a, b) for a, b in zip(bn_buffers(model), bn_buffers(ref)))


def test_multistep_sam_k2_on_quadratic_matches_hand_derived_update() -> None:
    rho, lr = 0.3, 0.1
    p1 = W0 + sam_eps(grad(W0), rho)
    p2 = p1 + sam_eps(grad(p1), rho)
    w = nn.Parameter(W0.clone())
    opt = MultistepSAM([w], SGD, rho=rho, k=2, lr=lr)
    opt.zero_grad(set_to_none=True)
    opt.step(quad_closure(w))
    torch.testing.assert_close(w.detach(), W0 - lr * grad(p2), rtol=0, atol=1e-12)


def test_lookahead_k2_on_quadratic_matches_hand_derived_update() -> None:
    lr, alpha = 0.1, 0.5
    w1 = W0 - lr * grad(W0)
    w2 = w1 - lr * grad(w1)
    w = nn.Parameter(W0.clone())
    opt = Lookahead(SGD([w], lr=lr), k=2, alpha=alpha)
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        opt.step(quad_closure(w))
    torch.testing.assert_close(w.detach(), W0 + alpha * (w2 - W0), rtol=0, atol=1e-12)


FACTORIES = {
    "sam": lambda p: SAM(p, SGD, rho=0.1, lr=0.1, momentum=0.9),
    "asam_adam": lambda p: SAM(p, torch.optim.Adam, rho=0.5, adaptive=True, eta=0.01, lr=0.01),
    "multistep": lambda p: MultistepSAM(p, SGD, rho=0.1, k=2, lr=0.1, momentum=0.9),
    "lookahead_sam": lambda p: Lookahead(SAM(p, SGD, rho=0.1, lr=0.1, momentum=0.9), k=3, alpha=0.5),
    "lookbehind_adaptive": lambda p: Lookbehind(p, SGD, rho=0.1, k=2, alpha=-1, lr=0.1, momentum=0.9),
    "lookbehind_asam": lambda p: Lookbehind(p, SGD, rho=0.5, k=3, alpha=0.5, adaptive=True, lr=0.1, momentum=0.9),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_state_dict_round_trip_continues_identically(name) -> None:
    model = net()
    opt = FACTORIES[name](model.parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train(model, opt, 4)
    sched.step()
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    ref = train(model, opt, 4, start=4)

    buf.seek(0)
    saved = torch.load(buf)
    model2 = net()
    model2.load_state_dict(saved["model"])
    opt2 = FACTORIES[name](model2.parameters())
    opt2.load_state_dict(saved["opt"])
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"] * 1.0)
    inner = opt2.inner.inner if isinstance(opt2, Lookahead) else opt2.inner
    assert inner.param_groups is opt2.param_groups  # groups still shared: schedulers keep working
    assert torch.equal(train(model2, opt2, 4, start=4), ref)


def test_lookbehind_state_dict_mid_outer_step() -> None:
    """Saved between descent 1 and ascent 2 of a k = 2 step (two-call form), then resumed."""
    def half_then_rest(model, opt, state=None):
        if state is not None:
            opt.load_state_dict(state)
        for i in range(2 if state is None else 1):
            F.cross_entropy(model(X), Y).backward()
            opt.first_step(zero_grad=True)
            F.cross_entropy(model(X), Y).backward()
            opt.second_step(zero_grad=True)
            if state is None and i == 0:
                saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
        return torch.cat([p.detach().flatten() for p in model.parameters()]), saved if state is None else None

    make = FACTORIES["lookbehind_adaptive"]
    model = net()
    ref, (model_state, opt_state) = half_then_rest(model, make(model.parameters()))
    model2 = net()
    model2.load_state_dict(model_state)
    got, _ = half_then_rest(model2, make(model2.parameters()), opt_state)
    assert torch.equal(got, ref)


def test_scheduler_on_wrapper_changes_base_lr() -> None:
    model = net()
    opt = Lookahead(SAM(model.parameters(), SGD, rho=0.05, lr=0.1), k=2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    train(model, opt, 1)
    sched.step()
    assert opt.inner.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


# ---------------------------------------------------------------- probes
def test_probes_on_least_squares_against_closed_form() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g, dtype=torch.float64)
    y = torch.randn(64, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():  # the least-squares minimiser: ∇L = 0
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T)
    w = model.weight.detach().clone()
    hess = 2 * x.T @ x / len(x)  # ∇² of mean squared error
    lam = torch.linalg.eigvalsh(hess).max().item()
    top = hessian_top_eigenvalue(model, x, y, iters=100, generator=g, loss_fn=F.mse_loss)
    assert top == pytest.approx(lam, rel=1e-6)
    rho = 0.1
    sharp = rho_ball_sharpness(model, x, y, rho, steps=20, loss_fn=F.mse_loss)
    # at a minimum of a quadratic, max_{‖ε‖≤ρ} L(w+ε) − L(w) = ½ λ_max ρ²; ascent gets close from below
    assert 0.8 * 0.5 * lam * rho**2 <= sharp["sharpness"] <= 0.5 * lam * rho**2 + 1e-12
    assert torch.equal(model.weight.detach(), w)  # probes restore the weights


def test_weight_noise_accuracy_sigma0_is_clean_accuracy_and_restores_weights() -> None:
    model = net()
    w = torch.cat([p.detach().flatten() for p in model.parameters()])
    clean = (model(X).argmax(1) == Y).float().mean().item()
    accs = weight_noise_accuracy(model, X, Y, [0.0, 0.5, 5.0], draws=5, generator=torch.Generator().manual_seed(0))
    assert accs[0] == clean and all(0.0 <= a <= 1.0 for a in accs)
    assert torch.equal(torch.cat([p.detach().flatten() for p in model.parameters()]), w)
