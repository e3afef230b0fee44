"""Post-training probes of a classifier's weights: accuracy, weight-noise robustness, sharpness.

All probes leave the model's weights as they found them and run in ``eval`` mode.

* ``weight_noise_accuracy``: multiplicative Gaussian noise w ← w ⊙ (1 + σ ξ), ξ ~ N(0, I), on every
  parameter; mean test accuracy over draws (protocol details of the paper are [unverified]).
* ``rho_ball_sharpness``: max_{‖ε‖₂ ≤ ρ} L(w + ε) − L(w), lower-bounded by projected normalised
  gradient ascent (the iterates' best value is reported).
* ``hessian_top_eigenvalue``: λ_max(∇²L(w)) by power iteration on Hessian–vector products
  (Pearlmutter's double backward).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@contextmanager
def eval_mode_restored(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Puts the model in eval mode and restores its weights and mode afterwards; yields the params."""
    params = [p for p in model.parameters() if p.requires_grad]
    backup = [p.detach().clone() for p in params]
    was_training = model.training
    model.eval()
    try:
        yield params
    finally:
        with torch.no_grad():
            for p, b in zip(params, backup):
                p.copy_(b)
        model.train(was_training)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in chunks."""
    return torch.cat([model(chunk) for chunk in x.split(batch_size)])


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    was_training = model.training
    model.eval()
    acc = (predict(model, x, batch_size).argmax(1) == y).float().mean().item()
    model.train(was_training)
    return acc


@torch.no_grad()
def weight_noise_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, sigmas: Sequence[float],
                          draws: int, generator: torch.Generator) -> list[float]:
    """Mean accuracy over ``draws`` noise draws for each σ in ``sigmas`` (σ = 0 is evaluated once).

    ``generator`` is a CPU ``torch.Generator``; the noise is drawn on the CPU and moved to the model's
    device, so the result does not depend on the device's RNG.
    """
    out = []
    with eval_mode_restored(model) as params:
        clean = [p.detach().clone() for p in params]
        for sigma in sigmas:
            accs = []
            for _ in range(draws if sigma > 0 else 1):
                for p, c in zip(params, clean):
                    xi = torch.randn(c.shape, generator=generator, dtype=c.dtype).to(c.device)
                    p.copy_(c * (1.0 + sigma * xi))
                accs.append((predict(model, x).argmax(1) == y).float().mean().item())
            out.append(sum(accs) / len(accs))
    return out


def _loss(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return loss_fn(model(x), y)


def rho_ball_sharpness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float, steps: int = 5,
                       loss_fn: LossFn = F.cross_entropy) -> dict[str, float]:
    """Worst loss increase in the L2 ball of radius ρ (over all parameters, one global norm).

    ε_0 = 0;  ε_{j+1} = Π_ρ(ε_j + (2ρ/steps) g_j / ‖g_j‖),  g_j = ∇L(w + ε_j);  report max_j L(w + ε_j) − L(w).

    Returns ``{"loss": L(w), "sharpness": max increase}``.
    """
    with eval_mode_restored(model) as params:
        clean = [p.detach().clone() for p in params]
        eps = [torch.zeros_like(p) for p in params]
        with torch.no_grad():
            base = _loss(model, loss_fn, x, y).item()
        worst = 0.0
        step = 2.0 * rho / max(steps, 1)
        for _ in range(steps):
            loss = _loss(model, loss_fn, x, y)
            grads = torch.autograd.grad(loss, params)
            worst = max(worst, loss.item() - base)
            with torch.no_grad():
                gnorm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
                for e, g in zip(eps, grads):
                    e.add_(g, alpha=step / (gnorm.item() + 1e-12))
                enorm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(e) for e in eps])).item()
                shrink = min(1.0, rho / (enorm + 1e-12))
                for p, c, e in zip(params, clean, eps):
                    e.mul_(shrink)
                    p.copy_(c + e)
        with torch.no_grad():
            worst = max(worst, _loss(model, loss_fn, x, y).item() - base)
    return {"loss": base, "sharpness": worst}


def hessian_top_eigenvalue(model: nn.Module, x: torch.Tensor, y: torch.Tensor, iters: int = 20,
                           generator: torch.Generator | None = None, loss_fn: LossFn = F.cross_entropy) -> float:
    """λ_max of the training-loss Hessian by power iteration, v ← Hv / ‖Hv‖, λ = vᵀHv."""
    with eval_mode_restored(model) as params:
        loss = _loss(model, loss_fn, x, y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        v = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]
        eig = 0.0
        for _ in range(iters):
            norm = torch.sqrt(sum((u * u).sum() for u in v))
            v = [u / norm for u in v]
            hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
            eig = sum((h * u).sum() for h, u in zip(hv, v)).item()
            v = [h.detach() for h in hv]
    return eig
