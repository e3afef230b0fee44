"""Training loops of the TrCAM-V agent on cached frozen-backbone features (the backbone never changes).

- ``encode_frames``: run the frozen backbone once over frames (batched) and keep decoder maps + pooled features.
- ``train_classifier``: the linear head on pooled features, cross-entropy with the video tag on every frame.
- ``train_decoder``: the localisation decoder with SGD (momentum 0.9, Nesterov, weight decay), either from
  pseudo-pixels (partial CE + λ_crf · CRF, seeds redrawn at every step) or, for the fully supervised upper
  bound, from the true masks (dense CE). One LR step every ``step_size`` epochs by γ (TrCAM's schedule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from agents.localization.backbone import FrozenViT
from agents.localization.decoder import ClassificationHead, LocalisationDecoder
from agents.localization.losses import dense_crf_loss, partial_cross_entropy
from agents.localization.seeds import PseudoPixelSampler


@torch.no_grad()
def encode_frames(backbone: FrozenViT, frames: torch.Tensor, batch_size: int = 256, device: str = "cpu"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, 3, H, W) float frames → (decoder maps (F, C, G, G), pooled (F, D)) on the CPU."""
    maps, pooled = [], []
    for start in range(0, len(frames), batch_size):
        out = backbone(frames[start:start + batch_size].to(device))
        maps.append(out.maps.cpu())
        pooled.append(out.pooled.cpu())
    return torch.cat(maps), torch.cat(pooled)


def train_classifier(pooled: torch.Tensor, labels: torch.Tensor, n_classes: int, steps: int, lr: float,
                     batch_size: int, generator: torch.Generator, device: str = "cpu") -> ClassificationHead:
    """Linear probe: AdamW on cross-entropy of the video tag, features standardised inside the head's bias."""
    head = ClassificationHead(pooled.shape[1], n_classes).to(device)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-4)
    for _ in range(steps):
        idx = torch.randint(len(pooled), (batch_size,), generator=generator)
        loss = F.cross_entropy(head(pooled[idx].to(device)), labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return head.eval()


@dataclass
class DecoderTraining:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    step_size: int = 15  # epochs between LR steps
    gamma: float = 0.9
    crf_weight: float = 2e-9  # λ_crf (0 turns the CRF term off)
    sigma_rgb: float = 15.0
    sigma_xy: float = 100.0
    crf_scale: int = 4  # the CRF kernel is built on frames average-pooled by this factor


def _batches(n_videos: int, n_frames: int, batch_size: int, epochs: int, generator: torch.Generator
             ) -> Iterable[tuple[int, torch.Tensor]]:
    """TrCAM's epoch: one random frame of every video (frames stored video-major), in random order."""
    for epoch in range(epochs):
        picks = torch.arange(n_videos) * n_frames + torch.randint(n_frames, (n_videos,), generator=generator)
        order = picks[torch.randperm(n_videos, generator=generator)]
        for start in range(0, max(n_videos - batch_size, 0) + 1, batch_size):
            yield epoch, order[start:start + batch_size]


def train_decoder(decoder: LocalisationDecoder, maps: torch.Tensor, frames: torch.Tensor, cfg: DecoderTraining,
                  generator: torch.Generator, *, n_frames: int = 1, cams: torch.Tensor | None = None,
                  masks: torch.Tensor | None = None, sampler: PseudoPixelSampler | None = None, device: str = "cpu",
                  log: Callable[[dict[str, float]], None] | None = None) -> LocalisationDecoder:
    """Fit the decoder on cached `maps` (F, C, G, G) of `frames` (F, 3, H, W) in [0, 1], F = videos × `n_frames`
    stored video-major; an epoch visits one random frame per video.

    Weak supervision: `cams` (F, H, W) and a `sampler` (pseudo-pixels redrawn every step, partial CE + CRF).
    Full supervision: `masks` (F, H, W) bool (dense CE; the upper bound).
    """
    if (cams is None) == (masks is None) or (cams is not None and sampler is None):
        raise ValueError("give either cams and a sampler (pseudo-pixels) or masks (full supervision)")
    decoder.to(device).train()
    opt = torch.optim.SGD(decoder.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if len(maps) % n_frames:
        raise ValueError(f"{len(maps)} frames are not whole videos of {n_frames} frames")
    epoch_seen = 0
    for epoch, idx in _batches(len(maps) // n_frames, n_frames, cfg.batch_size, cfg.epochs, generator):
        if epoch != epoch_seen:
            sched.step()
            epoch_seen = epoch
        logits = decoder(maps[idx].to(device))
        if masks is not None:
            loss = F.cross_entropy(logits, masks[idx].long().to(device))
            parts = {"ce": float(loss.detach())}
        else:
            seeds = sampler(cams[idx], generator)
            ce = partial_cross_entropy(logits, seeds.labels.to(device))
            loss, parts = ce, {"partial_ce": float(ce.detach())}
            if cfg.crf_weight > 0:
                probs = torch.softmax(logits, dim=1)
                crf = cfg.crf_weight * dense_crf_loss(probs, 255.0 * frames[idx].to(device), cfg.sigma_rgb,
                                                      cfg.sigma_xy, cfg.crf_scale)
                loss = loss + crf
                parts["crf"] = float(crf.detach())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite decoder loss at epoch {epoch}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None:
            log({"epoch": epoch, "loss": float(loss.detach()), **parts})
    return decoder.eval()


@torch.no_grad()
def predict_maps(decoder: LocalisationDecoder, maps: torch.Tensor, batch_size: int = 256, device: str = "cpu"
                 ) -> np.ndarray:
    """(F, H, W) foreground probabilities of the decoder, as float32 numpy."""
    decoder.eval()
    out = [decoder.foreground(maps[s:s + batch_size].to(device)).cpu() for s in range(0, len(maps), batch_size)]
    return torch.cat(out).numpy().astype(np.float32)
