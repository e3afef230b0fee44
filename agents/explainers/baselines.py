"""Gradient-attribution baselines from captum, turned into masks, plus the chance-level masks.

Every attribution is taken with respect to the log1p-STFT input X (B, T, F) of f = classifier ∘
refeaturizer, for the classifier's own decision c = argmax f(X), then mapped to a mask in [0, 1] per
sample: |a| min–max normalised (the spec's "normalise each attribution to [0, 1]").

- ``saliency``: |∂f_c/∂X| (captum ``Saliency``);
- ``integrated_gradients``: zero baseline, ``ig_steps`` Gauss–Legendre steps (captum ``IntegratedGradients``);
- ``smoothgrad``: saliency averaged over n = 25 noisy copies, σ = 0.15 × the batch's input range
  (captum ``NoiseTunnel(Saliency)``, ``nt_type="smoothgrad"``);
- ``gradcam``: Grad-CAM (ReLU) on the last conv block (captum ``LayerGradCam``), bilinearly upsampled to the
  (T, n_mels) grid, then mapped to the F linear bins by interpolating between the mel filters' centres;
- chance levels: ``random`` (i.i.d. U[0, 1]) and ``all_ones`` (M ≡ 1: masked-in = the input).
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency

from agents.explainers.classifier import SpectrogramClassifier

GRADIENT_METHODS = ("saliency", "integrated_gradients", "smoothgrad", "gradcam")
CHANCE_METHODS = ("random", "all_ones")


def normalise(attribution: torch.Tensor) -> torch.Tensor:
    """Per-sample min–max of |a| to [0, 1] (an all-equal attribution gives 0)."""
    a = attribution.abs().flatten(1)
    lo, hi = a.amin(1, keepdim=True), a.amax(1, keepdim=True)
    return ((a - lo) / (hi - lo).clamp_min(1e-12)).view_as(attribution)


def mel_to_linear(fbank: np.ndarray) -> torch.Tensor:
    """(n_mels, F) weights that linearly interpolate a mel-axis map at the F linear bins (filter centres)."""
    n_freqs, n_mels = fbank.shape
    centres = fbank.argmax(0).astype(float)
    eye = np.eye(n_mels)
    return torch.as_tensor(np.stack([np.interp(np.arange(n_freqs), centres, row) for row in eye]),
                           dtype=torch.float32)


def gradient_masks(method: str, classifier: SpectrogramClassifier, x: torch.Tensor, *, ig_steps: int = 32,
                   smoothgrad_samples: int = 25, smoothgrad_sigma: float = 0.15, batch_size: int = 64) -> torch.Tensor:
    """Masks (B, T, F) in [0, 1] from captum attributions of the predicted class."""
    classifier.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i: i + batch_size].detach().clone().requires_grad_(True)
        with torch.no_grad():
            target = classifier(xb).argmax(-1)
        if method == "saliency":
            attr = Saliency(classifier).attribute(xb, target=target, abs=True)
        elif method == "integrated_gradients":
            attr = IntegratedGradients(classifier).attribute(xb, baselines=0.0, target=target, n_steps=ig_steps,
                                                             internal_batch_size=batch_size * 8)
        elif method == "smoothgrad":
            sigma = smoothgrad_sigma * float(xb.detach().max() - xb.detach().min())
            attr = NoiseTunnel(Saliency(classifier)).attribute(
                xb, nt_type="smoothgrad", nt_samples=smoothgrad_samples, nt_samples_batch_size=smoothgrad_samples,
                stdevs=sigma, target=target, abs=True)
        elif method == "gradcam":
            cam = LayerGradCam(classifier, classifier.cnn.convs[-1]).attribute(xb, target=target,
                                                                               relu_attributions=True)
            cam = LayerAttribution.interpolate(cam, (xb.shape[-2], classifier.refeaturizer.fbank.shape[1]),
                                               interpolate_mode="bilinear").squeeze(1)
            attr = cam @ mel_to_linear(classifier.refeaturizer.fbank.cpu().numpy()).to(cam.device)
        else:
            raise ValueError(f"unknown gradient method '{method}'; choose one of {GRADIENT_METHODS}")
        out.append(normalise(attr.detach()))
    return torch.cat(out)


def chance_masks(method: str, shape: tuple[int, ...], generator: torch.Generator | None = None,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    if method == "random":
        return torch.rand(shape, generator=generator).to(device)
    if method == "all_ones":
        return torch.ones(shape, device=device)
    raise ValueError(f"unknown chance mask '{method}'; choose one of {CHANCE_METHODS}")
