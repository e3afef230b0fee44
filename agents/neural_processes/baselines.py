"""Baselines that re-encode their whole history at every query (reference ``models/cnp.py``, ``canp.py``, ``tnpd.py``).

- CNP (Garnelo et al. 2018): two mean-pooled MLP encoders of [x, y] → decoder MLP on [r, x_t];
  σ = 0.1 + 0.9 softplus(·). O(N) memory.
- ANP — the deterministic attentive NP of the reference (CANP, Kim et al. 2019): a cross-attention path
  (queries/keys = MLP(x), values = self-attended MLP([x, y])) plus a self-attention + mean-pooling path.
  Self-attention over the context: O(N²) compute.
- TNP-D (Nguyen & Grover 2022): one transformer over [context tokens [x, y]; target tokens [x, 0]] where
  every token attends to the context only; the target tokens' outputs → Gaussian head. O((N + M)²) compute.

CNP/ANP train on all points (context ∪ targets) as the reference does; TNP-D on the targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

from agents.neural_processes.base import GaussianHead, NeuralProcess
from agents.neural_processes.layers import build_mlp
from agents.perception.vit import Block


class MultiHeadAttention(nn.Module):
    """The NP-codebase MHA: out = LN(q + Attn(q, k, v)); out = LN(out + ReLU(W out)); q/k/v bias-free."""

    def __init__(self, dim_q: int, dim_k: int, dim_v: int, dim: int, heads: int = 8):
        super().__init__()
        self.heads = heads
        self.fc_q, self.fc_k = nn.Linear(dim_q, dim, bias=False), nn.Linear(dim_k, dim, bias=False)
        self.fc_v, self.fc_out = nn.Linear(dim_v, dim, bias=False), nn.Linear(dim, dim)
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = self.fc_q(q), self.fc_k(k), self.fc_v(v)
        split = lambda t: t.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # noqa: E731
        # the reference scales the logits by 1/√dim (the full width), not 1/√dim_head
        attended = F.scaled_dot_product_attention(split(q), split(k), split(v), scale=q.shape[-1] ** -0.5)
        out = self.ln1(q + attended.transpose(1, 2).flatten(2))
        return self.ln2(out + F.relu(self.fc_out(out)))


class PoolingEncoder(nn.Module):
    """r = post(mean_j pre([x_j, y_j])); with ``self_attn`` the pre-net ends in a self-attention layer."""

    def __init__(self, dim_x: int, dim_y: int, dim: int, pre_depth: int = 4, post_depth: int = 2,
                 self_attn: bool = False):
        super().__init__()
        self.pre = build_mlp(dim_x + dim_y, dim, dim, pre_depth - 2 if self_attn else pre_depth)
        self.self_attn = MultiHeadAttention(dim, dim, dim, dim) if self_attn else None
        self.post = build_mlp(dim, dim, dim, post_depth)

    def forward(self, xc: torch.Tensor, yc: torch.Tensor) -> torch.Tensor:
        h = self.pre(torch.cat([xc, yc], -1))
        if self.self_attn is not None:
            h = F.relu(h)
            h = self.self_attn(h, h, h)
        return self.post(h.mean(dim=1))


class Decoder(nn.Module):
    """[r, x_t] → MLP (``depth`` layers) → μ, σ = 0.1 + 0.9 softplus(·)."""

    def __init__(self, dim_x: int, dim_y: int, dim_enc: int, dim: int, depth: int = 3):
        super().__init__()
        self.net = build_mlp(dim_x + dim_enc, dim, 2 * dim_y, depth)

    def forward(self, encoded: torch.Tensor, xt: torch.Tensor) -> Normal:
        mean, raw = self.net(torch.cat([encoded, xt], -1)).chunk(2, dim=-1)
        return Normal(mean, 0.1 + 0.9 * F.softplus(raw))


class CNP(NeuralProcess):
    train_on_all_points = True

    def __init__(self, dim_x: int = 1, dim_y: int = 1, dim: int = 128, pre_depth: int = 4, post_depth: int = 2,
                 dec_depth: int = 3):
        super().__init__()
        self.enc1 = PoolingEncoder(dim_x, dim_y, dim, pre_depth, post_depth)
        self.enc2 = PoolingEncoder(dim_x, dim_y, dim, pre_depth, post_depth)
        self.dec = Decoder(dim_x, dim_y, 2 * dim, dim, dec_depth)

    def predict_from(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> Normal:
        r = torch.cat([self.enc1(xc, yc), self.enc2(xc, yc)], -1)
        return self.dec(r[:, None].expand(-1, xt.shape[1], -1), xt)


class ANP(NeuralProcess):
    """Deterministic attentive NP (the reference's CANP)."""

    train_on_all_points = True

    def __init__(self, dim_x: int = 1, dim_y: int = 1, dim: int = 128, v_depth: int = 4, qk_depth: int = 2,
                 pre_depth: int = 4, post_depth: int = 2, dec_depth: int = 3):
        super().__init__()
        self.net_v = build_mlp(dim_x + dim_y, dim, dim, v_depth - 2)
        self.self_attn = MultiHeadAttention(dim, dim, dim, dim)
        self.net_qk = build_mlp(dim_x, dim, dim, qk_depth)
        self.cross_attn = MultiHeadAttention(dim, dim, dim, dim)
        self.pooled = PoolingEncoder(dim_x, dim_y, dim, pre_depth, post_depth, self_attn=True)
        self.dec = Decoder(dim_x, dim_y, 2 * dim, dim, dec_depth)

    def predict_from(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> Normal:
        v = self.net_v(torch.cat([xc, yc], -1))
        v = self.self_attn(v, v, v)
        local = self.cross_attn(self.net_qk(xt), self.net_qk(xc), v)
        pooled = self.pooled(xc, yc)[:, None].expand(-1, xt.shape[1], -1)
        return self.dec(torch.cat([local, pooled], -1), xt)


class TNPD(NeuralProcess):
    """TNP-D on the project's transformer :class:`Block` (pre-LN, GELU, MLP width ``dim_ff``; the reference
    uses torch's post-LN ReLU layer) with a final LayerNorm; reference GP config d 64, 6 layers, 4 heads."""

    def __init__(self, dim_x: int = 1, dim_y: int = 1, dim: int = 64, emb_depth: int = 4, dim_ff: int = 128,
                 heads: int = 4, num_layers: int = 6, bound_std: bool = False):
        super().__init__()
        self.embedder = build_mlp(dim_x + dim_y, dim, dim, emb_depth)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio=dim_ff / dim) for _ in range(num_layers))
        self.head = GaussianHead(dim, dim_ff, dim_y, bound_std)

    def predict_from(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> Normal:
        b, n, m = xc.shape[0], xc.shape[1], xt.shape[1]
        tokens = torch.cat([torch.cat([xc, yc], -1), torch.cat([xt, torch.zeros_like(xt[..., :1]).expand(
            -1, -1, yc.shape[-1])], -1)], dim=1)
        attend_to_context = torch.arange(n + m, device=xc.device)[None].expand(b, -1) < n
        h = self.embedder(tokens)
        for block in self.blocks:
            h = block(h, key_mask=attend_to_context)
        return self.head(h[:, n:])
