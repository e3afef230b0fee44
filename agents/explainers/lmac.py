"""The L-MAC objective and the decoder's training loop (Paissan, Ravanelli, Subakan, ICML 2024, §3).

With ŷ = argmax f(X) (the frozen classifier's own decision) and M = M_θ(h(X)):

    L = λ_in · CE(f(M ⊙ X), ŷ) − λ_out · CE(f((1 − M) ⊙ X), ŷ) + λ_1 · s · mean|M| + λ_TV · TV(M)
        [+ (1/B) Σ_i g_w · BCE(M_i, 1[X_clean,i ≥ thr · max X_clean,i]) · 1[xcorr_i ≥ ρ]]   (L-MAC FT)

Recipe values (speechbrain ``recipes/ESC50/interpret/hparams/lmac_cnn14.yaml``): λ_in = 4, λ_out = 0.2,
λ_1 = 0.4, λ_TV = 0; FT g_w = 4, thr = 0.35, ρ = 0.6. The CE terms are batch means. The L1 scale s: the
recipe's code multiplies the batch-mean |M| by a length-B vector and sums (``train_lmac.py``), so s = B
(``l1_reduction="recipe"``; in FT, s = number of samples *not* guided; TV is scaled the same way);
``"mean"`` gives the paper's s = 1 (FT: mean over the unguided samples). xcorr_i = mean(X_clean · M⊙X) / (rms X_clean · rms M⊙X),
uncentred, as in the recipe. Adam (lr 2e-4, weight decay 2e-6), gradient norm clipped at 5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from agents.explainers.classifier import SpectrogramClassifier
from agents.explainers.decoder import MaskDecoder


@dataclass(frozen=True)
class LMACLoss:
    l_in: float = 4.0
    l_out: float = 0.2
    l_1: float = 0.4
    l_tv: float = 0.0
    l1_reduction: str = "recipe"  # recipe: λ_1 · B · mean|M| (the code) | mean: λ_1 · mean|M| (the paper)
    guidance_weight: float = 0.0  # g_w; > 0 turns on the fine-tuning guidance (needs X_clean)
    guidance_threshold: float = 0.35
    guidance_xcorr: float = 0.6

    def __call__(self, classifier: SpectrogramClassifier, mask: torch.Tensor, x: torch.Tensor,
                 x_clean: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss on a batch: mask, X, X_clean all (B, T, F); returns (loss, its parts as floats)."""
        with torch.no_grad():
            y_hat = classifier(x).argmax(-1)
        ce_in = F.cross_entropy(classifier(mask * x), y_hat)
        ce_out = F.cross_entropy(classifier((1 - mask) * x), y_hat)
        l1_per_sample = mask.abs().mean((-1, -2))
        guided = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        guidance = x.new_zeros(())
        if self.guidance_weight > 0:
            if x_clean is None:
                raise ValueError("the fine-tuning guidance needs the clean spectrogram x_clean")
            guided = xcorr(x_clean, mask * x) >= self.guidance_xcorr
            peak = x_clean.amax((-1, -2), keepdim=True)
            oracle = (x_clean >= self.guidance_threshold * peak).float()
            bce = F.binary_cross_entropy(mask.clamp(1e-6, 1 - 1e-6), oracle, reduction="none").mean((-1, -2))
            guidance = self.guidance_weight * (bce * guided).mean()
        free = (~guided).float()
        if self.l1_reduction == "recipe":
            l1 = mask.abs().mean() * free.sum()
        else:
            l1 = (l1_per_sample * free).sum() / free.sum().clamp_min(1.0)
        tv = (mask.diff(dim=-1).abs().mean() + mask.diff(dim=-2).abs().mean()) if self.l_tv > 0 else x.new_zeros(())
        if self.l1_reduction == "recipe":  # the recipe scales TV like L1: by the number of unguided samples
            tv = tv * free.sum()
        loss = self.l_in * ce_in - self.l_out * ce_out + self.l_1 * l1 + self.l_tv * tv + guidance
        parts = {"ce_in": ce_in.item(), "ce_out": ce_out.item(), "mask_mean": l1_per_sample.mean().item(),
                 "guidance": guidance.item(), "guided_fraction": guided.float().mean().item()}
        return loss, parts


def xcorr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample uncentred normalised cross-correlation mean(a·b) / (rms a · rms b), (B, T, F) → (B,)."""
    rms = lambda t: t.pow(2).mean((-1, -2)).sqrt()  # noqa: E731
    return (a * b).mean((-1, -2)) / (rms(a) * rms(b)).clamp_min(1e-12)


def lmac_masks(classifier: SpectrogramClassifier, decoder: MaskDecoder, x: torch.Tensor,
               batch_size: int = 256) -> torch.Tensor:
    """M = sigmoid(M_θ(blocks of f at X)) for a (B, T, F) batch, without gradients."""
    with torch.no_grad():
        return torch.cat([decoder(classifier.blocks(x[i: i + batch_size]), x.shape[-2])
                          for i in range(0, len(x), batch_size)])


def train_decoder(classifier: SpectrogramClassifier, decoder: MaskDecoder, x: torch.Tensor, loss_fn: LMACLoss,
                  *, epochs: int, batch_size: int = 16, lr: float = 2e-4, weight_decay: float = 2e-6,
                  clip_norm: float = 5.0, x_clean: torch.Tensor | None = None, seed: int = 0,
                  log: Callable[[dict], None] | None = None) -> list[dict[str, float]]:
    """Train `decoder` on the frozen `classifier` over X (N, T, F) (minibatches drawn without replacement)."""
    classifier.eval()
    opt = torch.optim.Adam(decoder.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        decoder.train()
        order = torch.as_tensor(rng.permutation(len(x)), device=x.device)
        sums: dict[str, float] = {}
        for start in range(0, len(x), batch_size):
            idx = order[start: start + batch_size]
            xb = x[idx]
            with torch.no_grad():
                blocks = classifier.blocks(xb)
            mask = decoder(blocks, xb.shape[-2])
            loss, parts = loss_fn(classifier, mask, xb, None if x_clean is None else x_clean[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(decoder.parameters(), clip_norm)
            opt.step()
            for k, v in {"loss": loss.item(), **parts}.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
        record = {"epoch": epoch + 1, **{k: v / len(x) for k, v in sums.items()}}
        history.append(record)
        if log is not None:
            log(record)
    decoder.eval()
    return history
