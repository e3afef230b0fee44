"""SPARC: Sparse Fine-grained Contrastive Alignment (Bica et al., ICML 2024, arXiv 2401.09865).

Global InfoNCE (eq. 1, :func:`agents.contrastive.clip.info_nce`) plus a per-pair fine-grained loss:

1. s_lp = t_l · v_p, token–patch similarities of one image–caption pair (L × P);
2. ŝ_lp = (s_lp − min_k s_lk) / (max_k s_lk − min_k s_lk + ε)                      (eq. 2, per token)
3. s̃_lp = ŝ_lp if ŝ_lp ≥ σ else 0, σ = 1/P                                         (eq. 3, sparsify)
4. a_lp = s̃_lp / Σ_r s̃_lr                                                          (eq. 4, no softmax)
5. c_l = Σ_p a_lp v_p, the language-grouped vision embedding of token l             (eq. 5)
6. L_f = −1/(2B) Σ_i (1/L_i) Σ_j [ log softmax_k(φ(c_ij, t_ik)/τ)_j + log softmax_k(φ(t_ij, c_ik)/τ)_j ] (eq. 6)
   — negatives are the other *tokens of the same caption*; padded tokens are masked as keys and queries.
7. L = λ_g L_g + λ_f L_f, λ_g = 0.5 (eq. 7); one learned inverse temperature shared by both losses (Listing 1).

Reconstructed choices, stated: ``token_mean="listing"`` (default) averages the per-token losses over all real
tokens of the batch as in Listing 1; ``"eq6"`` averages per caption first (eq. 6's 1/L_i). A token whose
similarities are all equal (ŝ ≡ 0, no patch survives) gets uniform weights 1/P so weights always sum to one
(the paper does not say). ``weighting="softmax"`` (the paper's Table 8 ablation) uses softmax_p(s_lp) on the
raw similarities — the exact temperature of that ablation is not given; ``threshold=0`` removes sparsity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from agents.contrastive.clip import info_nce
from agents.contrastive.dual_encoder import ContrastiveHead, Features, HeadOutput, LearnedScale

WEIGHTINGS = ("sparse", "softmax")
TOKEN_MEANS = ("listing", "eq6")


def minmax_normalise(sim: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Eq. 2: rescale each row (last axis) to [0, 1]; constant rows become 0."""
    lo, hi = sim.amin(dim=-1, keepdim=True), sim.amax(dim=-1, keepdim=True)
    return (sim - lo) / (hi - lo + eps)


def sparsify(sim_hat: torch.Tensor, threshold: float) -> torch.Tensor:
    """Eq. 3: zero every normalised similarity below `threshold` (σ = 1/P in the paper)."""
    return torch.where(sim_hat >= threshold, sim_hat, torch.zeros_like(sim_hat))


def alignment_weights(sim: torch.Tensor, threshold: float | None = None, weighting: str = "sparse",
                      eps: float = 1e-6) -> torch.Tensor:
    """Eqs. 2–4: token-to-patch alignment weights a (…, L, P), each row summing to one.

    Args:
        sim: (…, L, P) token–patch similarities s_lp.
        threshold: σ; None means 1/P (the paper), 0 keeps every patch (no sparsity).
        weighting: "sparse" (eqs. 2–4) or "softmax" (softmax_p s_lp, the paper's ablation).
        eps: ε of the min–max denominator.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    n_patches = sim.shape[-1]
    if weighting == "softmax":
        return sim.softmax(dim=-1)
    sigma = 1.0 / n_patches if threshold is None else threshold
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {sigma}")
    kept = sparsify(minmax_normalise(sim, eps), sigma)
    total = kept.sum(dim=-1, keepdim=True)
    uniform = torch.full_like(kept, 1.0 / n_patches)
    return torch.where(total > 0, kept / total.clamp_min(eps), uniform)


def grouped_embeddings(weights: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """Eq. 5: c_l = Σ_p a_lp v_p — (B, L, P) weights × (B, P, E) patches → (B, L, E)."""
    return torch.einsum("blp,bpe->ble", weights, patches)


def fine_grained_token_losses(grouped: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                              scale: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token cross-entropies of eq. 6, vision→language and language→vision, each (B, L); 0 at padding.

    Row m of the logits is c_m against every real token t_n of the same caption (and t_m against every c_n);
    padded tokens are masked as keys (they are never negatives) and their own rows are zeroed.
    """
    c, t = F.normalize(grouped, dim=-1), F.normalize(tokens, dim=-1)
    logits = scale * torch.einsum("bmd,bnd->bmn", c, t)  # [b, m, n] = φ(c_m, t_n) / τ
    pad_keys = ~mask[:, None, :]
    ce_vl = -torch.diagonal(logits.masked_fill(pad_keys, float("-inf")).log_softmax(-1), dim1=1, dim2=2)
    ce_lv = -torch.diagonal(logits.transpose(1, 2).masked_fill(pad_keys, float("-inf")).log_softmax(-1), dim1=1, dim2=2)
    zero = torch.zeros_like(ce_vl)
    return torch.where(mask, ce_vl, zero), torch.where(mask, ce_lv, zero)


def fine_grained_loss(grouped: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, scale: torch.Tensor | float,
                      token_mean: str = "listing") -> torch.Tensor:
    """Eq. 6 reduced to a scalar: mean of the two directions over real tokens ("listing") or per caption ("eq6")."""
    if token_mean not in TOKEN_MEANS:
        raise ValueError(f"token_mean must be one of {TOKEN_MEANS}, got {token_mean!r}")
    ce_vl, ce_lv = fine_grained_token_losses(grouped, tokens, mask, scale)
    per_token = 0.5 * (ce_vl + ce_lv)
    m = mask.to(per_token.dtype)
    if token_mean == "listing":
        return per_token.sum() / m.sum()
    return (per_token.sum(dim=1) / m.sum(dim=1)).mean()


class SparcLoss(ContrastiveHead):
    """L = λ_g · InfoNCE(v, t) + λ_f · L_f (eq. 7) with one learned inverse temperature for both."""

    name = "sparc"

    def __init__(self, lambda_g: float = 0.5, lambda_f: float = 1.0, threshold: float | None = None,
                 weighting: str = "sparse", token_mean: str = "listing", init_temperature: float = 0.07,
                 max_scale: float = 100.0, eps: float = 1e-6):
        super().__init__()
        if lambda_g < 0 or lambda_f < 0:
            raise ValueError(f"lambda_g and lambda_f must be >= 0, got {lambda_g}, {lambda_f}")
        if weighting not in WEIGHTINGS or token_mean not in TOKEN_MEANS:
            raise ValueError(f"weighting must be in {WEIGHTINGS} and token_mean in {TOKEN_MEANS}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1] or None (1/P), got {threshold}")
        self.lambda_g, self.lambda_f = lambda_g, lambda_f
        self.threshold, self.weighting, self.token_mean, self.eps = threshold, weighting, token_mean, eps
        self.scale = LearnedScale(1.0 / init_temperature, max_scale)

    def weights(self, f: Features) -> torch.Tensor:
        """Alignment weights a (B, L, P) of every caption token over its own image's patches."""
        sim = torch.einsum("ble,bpe->blp", f.tokens, f.patches)  # s_lp = t_l · v_p
        return alignment_weights(sim, self.threshold, self.weighting, self.eps)

    def forward(self, f: Features) -> HeadOutput:
        scale = self.scale()
        loss_g = info_nce(scale * f.image @ f.text.T)
        logs = {"loss_global": float(loss_g.detach()), "inverse_temperature": float(scale.detach())}
        if self.lambda_f == 0.0:
            return HeadOutput(self.lambda_g * loss_g, logs)
        a = self.weights(f)
        loss_f = fine_grained_loss(grouped_embeddings(a, f.patches), f.tokens, f.token_mask, scale, self.token_mean)
        with torch.no_grad():
            logs["loss_fine"] = float(loss_f)
            logs["patches_per_token"] = float((a > 0).sum(-1)[f.token_mask].float().mean())
        return HeadOutput(self.lambda_g * loss_g + self.lambda_f * loss_f, logs)
