"""A VQ-VAE frame tokenizer (van den Oord et al. 2017; IRIS/DART): 64 × 64 RGB → K = (64 / 2^n_down)² codes.

Encoder E (strided convs) → z ∈ R^{D×h×w}; each of the K = h·w vectors is replaced by its nearest codebook
entry e_k (k = argmin ‖z − e_k‖², the token); decoder D maps the quantised grid back to pixels, with the
straight-through estimator z + sg(e − z) for the encoder's gradient. Loss (VQ-VAE eq. 3, β on the commitment
term; IRIS uses β = 1, which makes the placement immaterial):

    L = ‖x − D(e)‖² + ‖sg(z) − e‖² + β ‖z − sg(e)‖²        (means over elements)

IRIS uses |x − D(e)|₁ + LPIPS instead of the squared error; LPIPS needs pretrained VGG weights (no downloads
here), and L1 alone stalls at the all-black per-pixel median on MinAtar's sparse frames (measured: a plain
autoencoder on such frames does not move off black in 200 steps under L1 or L1 + L2, and fits under L2), so we
use the original VQ-VAE's squared error [reconstructed]. Dead-code restarts [design, not in IRIS]: a code unused for ``restart_after`` consecutive
training batches is moved onto a random encoder output of the current batch; without them the codebook
collapses to a few codes on MinAtar's mostly black frames. ``restart_after = 0`` turns them off.
Frames are float (B, 3, H, W) in [0, 1] (see :func:`to_float`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TokenizerConfig:
    image_size: int = 64
    in_channels: int = 3
    channels: int = 32  # conv width (IRIS: 64)
    n_down: int = 4  # stride-2 downsamplings: 64 → 4, K = 16 tokens (IRIS: 4)
    codebook_size: int = 128  # N (IRIS: 512)
    embed_dim: int = 32  # code dimension D (IRIS: 512)
    beta: float = 1.0  # commitment weight
    restart_after: int = 20  # training batches without use before a code is restarted (0: never)

    @property
    def grid(self) -> int:
        return self.image_size // 2**self.n_down

    @property
    def tokens_per_frame(self) -> int:
        return self.grid**2


def to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) → float (..., 3, H, W) in [0, 1]."""
    return frames.movedim(-1, -3).float() / 255.0


def _res_block(c: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 1))


class Residual(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


class VQTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or TokenizerConfig()
        if cfg.image_size % 2**cfg.n_down:
            raise ValueError(f"image_size {cfg.image_size} must be divisible by 2^n_down = {2**cfg.n_down}")
        c = cfg.channels
        down = [nn.Conv2d(cfg.in_channels, c, 3, padding=1)]
        for _ in range(cfg.n_down):
            down += [nn.ReLU(), nn.Conv2d(c, c, 4, stride=2, padding=1)]
        self.encoder = nn.Sequential(*down, Residual(_res_block(c)), nn.ReLU(), nn.Conv2d(c, cfg.embed_dim, 1))
        up = [nn.Conv2d(cfg.embed_dim, c, 3, padding=1), Residual(_res_block(c))]
        for _ in range(cfg.n_down):
            up += [nn.ReLU(), nn.ConvTranspose2d(c, c, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*up, nn.ReLU(), nn.Conv2d(c, cfg.in_channels, 3, padding=1))
        self.codebook = nn.Embedding(cfg.codebook_size, cfg.embed_dim)
        self.codebook.weight.data.uniform_(-1 / cfg.codebook_size, 1 / cfg.codebook_size)
        self.register_buffer("unused_for", torch.zeros(cfg.codebook_size, dtype=torch.long))

    @property
    def tokens_per_frame(self) -> int:
        return self.cfg.tokens_per_frame

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, D, h, w) → tokens (B, K) (row-major) and the codebook vectors e (B, D, h, w)."""
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.weight.T + \
            self.codebook.weight.pow(2).sum(1)[None]
        tokens = dist.argmin(1).view(b, h * w)
        return tokens, self.embed(tokens)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, K) → codebook vectors on the grid (B, D, h, w)."""
        g = self.cfg.grid
        return self.codebook(tokens).view(len(tokens), g, g, -1).permute(0, 3, 1, 2)

    @torch.no_grad()
    def tokenize(self, frames: torch.Tensor) -> torch.Tensor:
        """float frames (B, 3, H, W) → tokens (B, K)."""
        return self.quantize(self.encoder(frames))[0]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, K) → reconstructed frames (B, 3, H, W), unclamped."""
        return self.decoder(self.embed(tokens))

    def loss(self, frames: torch.Tensor) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        """The VQ-VAE loss on float frames; returns (loss, its parts, the tokens)."""
        z = self.encoder(frames)
        tokens, e = self.quantize(z)
        recon = self.decoder(z + (e - z).detach())  # straight-through
        rec = (frames - recon).pow(2).mean()
        codebook = (z.detach() - e).pow(2).mean()
        commit = (z - e.detach()).pow(2).mean()
        loss = rec + codebook + self.cfg.beta * commit
        if self.training and self.cfg.restart_after:
            self._restart_dead_codes(z.detach(), tokens)
        return loss, {"reconstruction": rec.item(), "codebook": codebook.item(), "commitment": commit.item()}, tokens


    @torch.no_grad()
    def _restart_dead_codes(self, z: torch.Tensor, tokens: torch.Tensor) -> None:
        used = torch.bincount(tokens.flatten(), minlength=self.cfg.codebook_size) > 0
        self.unused_for = torch.where(used, 0, self.unused_for + 1)
        dead = torch.nonzero(self.unused_for >= self.cfg.restart_after).flatten()
        if len(dead):
            flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
            pick = torch.randint(0, len(flat), (len(dead),), device=z.device)
            self.codebook.weight.data[dead] = flat[pick]
            self.unused_for[dead] = 0


def codebook_usage(tokens: torch.Tensor, codebook_size: int) -> tuple[float, float]:
    """(fraction of codes used, perplexity exp(H(p))) of the empirical code distribution p in `tokens`."""
    counts = torch.bincount(tokens.flatten(), minlength=codebook_size).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float((counts > 0).double().mean()), float(entropy.exp())


def reconstruction_error(tokenizer: VQTokenizer, frames: torch.Tensor) -> float:
    """Mean squared error ‖x − D(E(x))‖² per element on float frames (no gradient)."""
    with torch.no_grad():
        return float((tokenizer.decode(tokenizer.tokenize(frames)) - frames).pow(2).mean())


__all__ = ["TokenizerConfig", "VQTokenizer", "codebook_usage", "reconstruction_error", "to_float"]
