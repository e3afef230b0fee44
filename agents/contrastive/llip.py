"""Llip: Latent Language Image Pretraining (Lavoie et al., ICML 2024, arXiv 2405.00740).

The ViT emits K learnable *mixture tokens* h_1..h_K(x) (:class:`agents.perception.ViT`, ``n_extra_tokens=K``);
the caption embedding z_y queries them, so every caption re-mixes every image's tokens:

    α_hk(x, y) = softmax_k( (W_q z_y)_h · (W_k h_k(x))_h / τ_att )               (text-queried cross-attention)
    z_{x|y}    = W_o concat_h Σ_k α_hk(x, y) (W_v h_k(x))_h                       (caption-conditioned image)
    s_ij       = cos(z_{x_i|y_j}, z_{y_j})                                        (B × B score matrix)
    sigmoid:  L = −(1/B) Σ_i Σ_j log σ(ℓ_ij (t · s_ij + b)),  ℓ_ii = +1, ℓ_ij = −1   (SigLIP form)
    InfoNCE:  L = symmetric cross-entropy of (s_ij / τ) with positives on the diagonal (CLIP form)

No official code is public; the formulas above are a reconstruction (``../shared/specs/llip.md`` §1.2): the query
is the l2-normalised caption embedding, the logits are divided by τ_att only (the spec's formula; no extra
1/√d_h — with it, attention stayed uniform in our runs, see docs/caption_diversity.md), projections have no bias,
t and b are learned (SigLIP's init t = 10, b = −10), and the InfoNCE scale is learned (CLIP's init 1/0.07).
With K = 1 every α = 1 and z_{x|y} = W_o W_v h_1(x) no longer depends on y: Llip is then exactly a single-vector
dual encoder (SigLIP / CLIP) whose image embedding is a [CLS]-like token through the linear map W_o W_v.
``uniform=True`` fixes α = 1/K (the ablation that removes caption conditioning).

    model = LlipDualEncoder(ViT(ViTConfig(n_extra_tokens=8)), TextEncoder(text_cfg), embed_dim=64, heads=1)
    out = LlipLoss("sigmoid")(model(images, tokens)); out.loss.backward()
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from agents.contrastive.clip import info_nce
from agents.contrastive.dual_encoder import ContrastiveHead, DualEncoder, Features, HeadOutput, LearnedScale
from agents.contrastive.siglip import sigmoid_loss
from agents.perception.text import TextEncoder
from agents.perception.vit import ViT

OBJECTIVES = ("sigmoid", "infonce")


@dataclass
class MixtureState:
    """What an image keeps for conditioning: per-head keys and values of its K mixture tokens, each (N, K, H, d_h)."""

    keys: torch.Tensor
    values: torch.Tensor

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class LlipFeatures(Features):
    """:class:`Features` plus the caption-conditioned scores of every (image i, caption j) pair.

    Attributes:
        scores: (B images, B captions) s_ij = cos(z_{x_i|y_j}, z_{y_j}).
        attention: (B, B, H, K) α of caption j over image i's mixture tokens.
    """

    scores: torch.Tensor = None  # type: ignore[assignment]
    attention: torch.Tensor = None  # type: ignore[assignment]


class TextQueriedCrossAttention(nn.Module):
    """Multi-head cross-attention, caption embedding as query, an image's K mixture tokens as keys and values."""

    def __init__(self, token_width: int, embed_dim: int, heads: int = 1, temperature: float = 1.0,
                 uniform: bool = False):
        super().__init__()
        if heads < 1 or embed_dim % heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by heads ({heads}) >= 1")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.heads, self.head_dim, self.temperature, self.uniform = heads, embed_dim // heads, temperature, uniform
        self.query = nn.Linear(embed_dim, embed_dim, bias=False)  # W_q
        self.key = nn.Linear(token_width, embed_dim, bias=False)  # W_k
        self.value = nn.Linear(token_width, embed_dim, bias=False)  # W_v
        self.out = nn.Linear(embed_dim, embed_dim, bias=False)  # W_o

    def image_state(self, mixture: torch.Tensor) -> MixtureState:
        """Keys and values (N, K, H, d_h) of mixture tokens (N, K, W): computed once per image."""
        n, k, _ = mixture.shape
        shape = (n, k, self.heads, self.head_dim)
        return MixtureState(self.key(mixture).view(shape), self.value(mixture).view(shape))

    def attention(self, state: MixtureState, text: torch.Tensor) -> torch.Tensor:
        """α (N, M, H, K) of M captions (M, E) over each of N images' mixture tokens; sums to 1 over K."""
        n, k = state.keys.shape[:2]
        if self.uniform:
            return state.keys.new_full((n, len(text), self.heads, k), 1.0 / k)
        q = self.query(text).view(len(text), self.heads, self.head_dim)
        logits = torch.einsum("mhd,nkhd->nmhk", q, state.keys) / self.temperature
        return logits.softmax(dim=-1)

    def mix(self, state: MixtureState, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_{x_n|y_m} (N, M, E) unnormalised, α (N, M, H, K)) — every caption re-mixes every image."""
        alpha = self.attention(state, text)
        mixed = torch.einsum("nmhk,nkhd->nmhd", alpha, state.values)
        return self.out(mixed.flatten(2)), alpha

    def scores(self, state: MixtureState, text: torch.Tensor, chunk: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(s (N, M) = cos(z_{x_n|y_m}, z_{y_m}), α (N, M, H, K)) for l2-normalised captions `text` (M, E).

        ``chunk`` bounds memory at N · chunk · E by processing captions in blocks (same result).
        """
        blocks = [text] if chunk is None or chunk >= len(text) else text.split(chunk)
        scores, alphas = [], []
        for block in blocks:
            z, alpha = self.mix(state, block)
            scores.append(torch.einsum("nme,me->nm", F.normalize(z, dim=-1), block))
            alphas.append(alpha)
        return torch.cat(scores, dim=1), torch.cat(alphas, dim=1)


class LlipDualEncoder(DualEncoder):
    """The shared ViT (with K = ``n_extra_tokens`` mixture tokens) and text encoder, plus the cross-attention.

    ``encode_image`` returns the patch embeddings and a caption-independent summary (the uniform mixture,
    exact for K = 1) so the project's single-vector probes still run; Llip's scores come from :meth:`scores`.
    """

    def __init__(self, vision: ViT, text: TextEncoder, embed_dim: int = 64, heads: int = 1, temperature: float = 1.0,
                 uniform: bool = False, chunk: int | None = None):
        super().__init__(vision, text, embed_dim)
        if vision.extra is None:
            raise ValueError("Llip needs mixture tokens: build the ViT with ViTConfig(n_extra_tokens=K), K >= 1")
        self.n_mixture = vision.extra.shape[1]
        self.cross_attention = TextQueriedCrossAttention(vision.width, embed_dim, heads, temperature, uniform)
        self.chunk = chunk

    def encode_mixture(self, images: torch.Tensor) -> tuple[torch.Tensor, MixtureState]:
        """(adapted patches v_p (B, P, E), the mixture tokens' keys and values)."""
        out = self.vision(images)
        return self.vision_adaptor(out.patches), self.cross_attention.image_state(out.extra)

    def encode_image(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(v_p (B, P, E), normalize(W_o mean_k W_v h_k) (B, E)): the caption-independent uniform mixture."""
        patches, state = self.encode_mixture(images)
        pooled = self.cross_attention.out(state.values.mean(dim=1).flatten(1))
        return patches, F.normalize(pooled, dim=-1)

    def scores(self, state: MixtureState, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(s (N, M), α (N, M, H, K)) of N encoded images against M normalised caption embeddings."""
        return self.cross_attention.scores(state, text, self.chunk)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> LlipFeatures:
        if len(images) != len(tokens):
            raise ValueError(f"{len(images)} images but {len(tokens)} captions")
        patches, state = self.encode_mixture(images)
        token_emb, text, mask = self.encode_text(tokens)
        scores, alpha = self.scores(state, text)
        image = F.normalize(self.cross_attention.out(state.values.mean(dim=1).flatten(1)), dim=-1)
        return LlipFeatures(patches=patches, image=image, tokens=token_emb, text=text, token_mask=mask,
                            scores=scores, attention=alpha)


def attention_entropy(alpha: torch.Tensor) -> torch.Tensor:
    """Entropy of α over the K mixture tokens divided by log K (1 = uniform, 0 = one token); 0 when K = 1."""
    k = alpha.shape[-1]
    if k == 1:
        return torch.zeros(alpha.shape[:-1], dtype=alpha.dtype, device=alpha.device)
    return -(alpha * alpha.clamp_min(1e-12).log()).sum(-1) / math.log(k)


class LlipLoss(ContrastiveHead):
    """Sigmoid (learned t, b) or InfoNCE (learned 1/τ) loss on Llip's B × B caption-conditioned scores."""

    name = "llip"

    def __init__(self, objective: str = "sigmoid", init_scale: float = 10.0, init_bias: float = -10.0,
                 init_temperature: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.objective = objective
        if objective == "sigmoid":
            self.scale = LearnedScale(init_scale, max_scale)
            self.bias = nn.Parameter(torch.tensor(float(init_bias)))
        else:
            self.scale = LearnedScale(1.0 / init_temperature, max_scale)

    def logits(self, scores: torch.Tensor) -> torch.Tensor:
        """t · s + b (sigmoid) or s / τ (InfoNCE)."""
        scale = self.scale()
        return scale * scores + self.bias if self.objective == "sigmoid" else scale * scores

    def forward(self, f: Features) -> HeadOutput:
        if not isinstance(f, LlipFeatures):
            raise TypeError("LlipLoss needs LlipFeatures (the B x B conditioned scores) from LlipDualEncoder")
        logits = self.logits(f.scores)
        loss = sigmoid_loss(logits) if self.objective == "sigmoid" else info_nce(logits)
        with torch.no_grad():
            logs = {"loss_global": float(loss), "inverse_temperature": float(self.scale()),
                    "attention_entropy": float(attention_entropy(f.attention).mean())}
            if self.objective == "sigmoid":
                logs["bias"] = float(self.bias)
        return HeadOutput(loss, logs)
