"""CMANP and CMANP-AND (Feng et al., ICML 2024, §4; reference ``models/cmanp.py``, ``models/cmanpand.py``).

CMANP: embed each context point [x, y] with an MLP, condition a stack of CMABs on the embeddings block by
block (constant memory), then decode each target x_t: MLP embedding → per layer ℓ, cross-attention from the
targets to layer ℓ's latents + FF (targets do not attend to each other) → LN → Gaussian head.

CMANP-AND (autoregressive not-diagonal): the decoder features also feed a 2-layer transformer and a projector
to P ∈ ℝ^{(M·d_y) × r}; the joint predictive is N(μ, L Lᵀ) with L = tril(P Pᵀ). At evaluation the targets are
predicted in blocks of ``and_block_size``: block k jointly, then its *true* (x, y) are streamed into the context
with the constant-memory update before block k + 1. Reported ``tar_ll`` = Σ_k log p(block k) / M.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal

from agents.neural_processes.base import GaussianHead, NeuralProcess
from agents.neural_processes.cmab import CMABContext, CMABEncoder
from agents.neural_processes.layers import PreNormAttention, PreNormFF, build_mlp
from agents.perception.vit import Block


class CMANP(NeuralProcess):
    """Constant Memory Attentive Neural Process. Defaults = the reference GP config (d 64, 6 layers, 128 latents).

    ``block_size`` is the conditioning block (``CMAB_block_size``; None = the whole context in one block, as in
    training). Embedding happens per block too, so conditioning memory is O(1) in N end to end.
    """

    def __init__(self, dim_x: int = 1, dim_y: int = 1, dim: int = 64, emb_depth: int = 4, dim_ff: int = 128,
                 heads: int = 4, num_layers: int = 6, num_latents: int = 128, num_latents_per_layer: int = 128,
                 block_size: int | None = None, bound_std: bool = False):
        super().__init__()
        self.block_size = block_size
        self.embedder = build_mlp(dim_x + dim_y, dim, dim, emb_depth)
        self.encoder = CMABEncoder(dim, heads, dim_ff, num_layers, num_latents, num_latents_per_layer)
        self.query_embedder = build_mlp(dim_x, dim, dim, emb_depth)
        self.decoder_attn = nn.ModuleList(PreNormAttention(dim, heads) for _ in range(num_layers))
        self.decoder_ff = nn.ModuleList(PreNormFF(dim, dim_ff) for _ in range(num_layers))
        self.head = GaussianHead(dim, dim_ff, dim_y, bound_std)

    def condition(self, xc: torch.Tensor, yc: torch.Tensor, block_size: int | None = None) -> CMABContext:
        return self.update(self.encoder.empty(xc.shape[0], xc), xc, yc, block_size)

    def update(self, context: CMABContext, x_new: torch.Tensor, y_new: torch.Tensor,
               block_size: int | None = None) -> CMABContext:
        """Stream new points into the state in blocks (embedding each block), then refresh the latents."""
        step = block_size or self.block_size or max(1, x_new.shape[1])
        for start in range(0, x_new.shape[1], step):
            tokens = self.embedder(torch.cat([x_new[:, start:start + step], y_new[:, start:start + step]], -1))
            context = self.encoder.fold(context, tokens)
        return self.encoder.refresh(context)

    def decode(self, context: CMABContext, xt: torch.Tensor) -> torch.Tensor:
        """Target features (B, M, d): per layer, targets cross-attend to that layer's latents."""
        h = self.query_embedder(xt)
        for attn, ff, latents in zip(self.decoder_attn, self.decoder_ff, context.latents):
            h = ff(attn(h, latents))
        return h

    def predict(self, context: CMABContext, xt: torch.Tensor) -> Normal:
        return self.head(self.decode(context, xt))

    def predict_from(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> Normal:
        return self.predict(self.condition(xc, yc), xt)


class CMANPAND(CMANP):
    """CMANP with a full-covariance (Cholesky) head evaluated autoregressively over target blocks (§4).

    Reference GP config: 2 ``std_encoder`` layers, projector depth 4 to ``prj_dim`` = 20, ``AND_block_size`` 100.
    The reference's std_encoder is torch's post-LN ReLU ``TransformerEncoderLayer``; ours is the project's
    pre-LN GELU :class:`~agents.perception.vit.Block` (MLP width ``dim_ff``). The diagonal of L is floored
    at 1e-6 (the reference leaves it unbounded unless ``bound_std``, where it is 0.05 + 0.95 tanh(·)).
    """

    def __init__(self, dim_x: int = 1, dim_y: int = 1, dim: int = 64, emb_depth: int = 4, dim_ff: int = 128,
                 heads: int = 4, num_layers: int = 6, num_latents: int = 128, num_latents_per_layer: int = 128,
                 block_size: int | None = None, bound_std: bool = False, num_std_layers: int = 2,
                 prj_dim: int = 20, prj_depth: int = 4, and_block_size: int = 100):
        super().__init__(dim_x, dim_y, dim, emb_depth, dim_ff, heads, num_layers, num_latents,
                         num_latents_per_layer, block_size, bound_std)
        del self.head  # replaced by mean_net + the Cholesky factor below
        self.and_block_size, self.dim_y, self.bound_std = and_block_size, dim_y, bound_std
        self.final_norm = nn.LayerNorm(dim)
        self.mean_net = nn.Sequential(nn.Linear(dim, dim_ff), nn.ReLU(), nn.Linear(dim_ff, dim_y))
        self.std_encoder = nn.ModuleList(Block(dim, heads, mlp_ratio=dim_ff / dim) for _ in range(num_std_layers))
        self.projector = build_mlp(dim, dim_ff, prj_dim * dim_y, prj_depth)

    def joint(self, context: CMABContext, xt: torch.Tensor) -> MultivariateNormal:
        """N(μ, L Lᵀ) over the M·d_y target values (target-major), L = tril(P Pᵀ)."""
        h = self.final_norm(self.decode(context, xt))
        b = h.shape[0]
        mean = self.mean_net(h).reshape(b, -1)
        g = h
        for block in self.std_encoder:
            g = block(g)
        p = self.projector(g).reshape(b, mean.shape[1], -1)
        tril = (p @ p.transpose(1, 2)).tril()
        diag = tril.diagonal(dim1=-2, dim2=-1)
        diag = 0.05 + 0.95 * torch.tanh(diag) if self.bound_std else diag.clamp_min(1e-6)
        tril = tril - torch.diag_embed(tril.diagonal(dim1=-2, dim2=-1)) + torch.diag_embed(diag)
        return MultivariateNormal(mean, scale_tril=tril, validate_args=False)

    def predict(self, context: CMABContext, xt: torch.Tensor) -> Normal:
        """Marginals of the joint predictive: N(μ_i, (L Lᵀ)_ii)."""
        joint = self.joint(context, xt)
        shape = (*xt.shape[:2], self.dim_y)
        return Normal(joint.mean.reshape(shape), joint.variance.sqrt().reshape(shape))

    def target_log_likelihood(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor,
                              yt: torch.Tensor) -> torch.Tensor:
        """Autoregressive over target blocks (eval) — Σ_k log p(y_k | context ∪ blocks < k) / M, per task."""
        context, total, m = self.condition(xc, yc), 0.0, xt.shape[1]
        for start in range(0, m, self.and_block_size):
            xb, yb = xt[:, start:start + self.and_block_size], yt[:, start:start + self.and_block_size]
            total = total + self.joint(context, xb).log_prob(yb.flatten(1))
            if start + self.and_block_size < m:
                context = self.update(context, xb, yb)
        return total / m

    def loss(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor) -> torch.Tensor:
        """Training (TNP-ND style): −mean over tasks of the *joint* log-likelihood of all targets (not / M)."""
        return -self.joint(self.condition(xc, yc), xt).log_prob(yt.flatten(1)).mean()
