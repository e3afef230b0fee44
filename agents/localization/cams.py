"""Pseudo-label source of TrCAM-V: class activation maps of the project's own image–text model (spec §2).

TrCAM-V takes Grad-CAM maps of CLIP for the video's class prompt. Here the image–text model is the project's
:class:`~agents.contrastive.DualEncoder` (ViT + text encoder) pre-trained with a CLIP/SigLIP/SPARC objective:

    s_c(x) = ⟨v(x), t_c⟩ / τ      (v = l2norm(mean_p g_v(f_v(x)_p)), t_c = prompt c's text embedding)
    y = softmax_c(s_c)[c*] over the class prompts and the background prompts, for the tagged class c*
    Grad-CAM (Selvaraju et al. 2017):  α = mean_p ∂y/∂z_p,   CAM_p = ReLU(⟨α, z_p⟩)

with z_p the ViT's final patch tokens. The map is upsampled bilinearly from the G × G grid to the frame and
min-max normalised to [0, 1] per frame. As in CLIP-ES, the softmax also covers background prompts (the
world's texture names, learnt from background-only captioned images); the other classes' prompts compete
too (distractors are other classes). CLIP-ES's attention-affinity refinement is not reproduced.

The **noise knob** (spec §5, "controlled synthetic CAM") corrupts a map with noise ν ∈ [0, 1]: a random shift
of up to ν·H/4 pixels and ν × (two Gaussian blobs at random places), then min-max normalisation again.
The **temporal CAM** baseline (TCAM's ``sl_tc_knn_mode``) averages the CAMs of the ±k neighbouring frames of
the same video with weights 1 / (1 + |Δt|).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from agents.contrastive import DualEncoder


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Per-map min-max normalisation of (..., H, W) to [0, 1]; a constant map becomes 0."""
    flat = maps.flatten(-2)
    lo, hi = flat.amin(-1, keepdim=True), flat.amax(-1, keepdim=True)
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(maps)


def text_grad_cam(model: DualEncoder, images: torch.Tensor, class_text: torch.Tensor, classes: torch.Tensor,
                  scale: float = 1.0) -> torch.Tensor:
    """(B, H, W) Grad-CAMs in [0, 1] of the tagged `classes` (B,) under the zero-shot classifier.

    `class_text` (C, E) holds the l2-normalised text embeddings of the C class prompts; `scale` is the
    contrastive head's inverse temperature 1/τ (it only sharpens the softmax).
    """
    vit = model.vision
    with torch.enable_grad():
        tokens = vit(images).patches.detach().requires_grad_(True)  # z_p (B, P, W)
        image = F.normalize(model.vision_adaptor(tokens).mean(1), dim=-1)
        prob = torch.softmax(scale * image @ class_text.T, dim=-1).gather(1, classes[:, None]).sum()
        (grad,) = torch.autograd.grad(prob, tokens)
    alpha = grad.mean(1, keepdim=True)  # (B, 1, W)
    cam = F.relu((alpha * tokens.detach()).sum(-1))  # (B, P)
    g = vit.cfg.image_size // vit.cfg.patch_size
    cam = F.interpolate(cam.view(-1, 1, g, g), size=images.shape[-2:], mode="bilinear", align_corners=False)
    return minmax(cam[:, 0])


def corrupt_cams(cams: torch.Tensor, noise: float, generator: torch.Generator) -> torch.Tensor:
    """Noisy pseudo-labels: shift by ≤ ν·H/4 px (zero fill), add ν × two Gaussian blobs, min-max again."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    if noise == 0.0:
        return cams.clone()
    n, h, w = cams.shape
    max_shift = int(round(noise * h / 4))
    dy, dx = (torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator) if max_shift
              else torch.zeros(2, n, dtype=torch.long))
    rows, cols = torch.arange(h), torch.arange(w)
    src_r, src_c = rows[None, :] - dy[:, None], cols[None, :] - dx[:, None]  # (N, H), (N, W)
    valid = ((src_r >= 0) & (src_r < h))[:, :, None] & ((src_c >= 0) & (src_c < w))[:, None, :]
    shifted = cams[torch.arange(n)[:, None, None], src_r.clamp(0, h - 1)[:, :, None], src_c.clamp(0, w - 1)[:, None, :]]
    shifted = shifted * valid
    centres = torch.rand(n, 2, 2, generator=generator) * torch.tensor([h, w])  # (N, blob, (y, x))
    amplitude = 0.5 + torch.rand(n, 2, generator=generator)
    sigma = h / 10
    d2 = (rows[None, None, :, None] - centres[..., 0, None, None]) ** 2 + \
         (cols[None, None, None, :] - centres[..., 1, None, None]) ** 2
    blobs = (amplitude[..., None, None] * torch.exp(-d2 / (2 * sigma ** 2))).sum(1)
    return minmax(shifted + noise * blobs)


def temporal_cams(cams: torch.Tensor, knn: int = 3) -> torch.Tensor:
    """(N, T, H, W) → each frame's CAM averaged with its ±`knn` neighbours, weights 1/(1+|Δt|), min-max."""
    if knn < 0:
        raise ValueError(f"knn must be >= 0, got {knn}")
    n, t_len, h, w = cams.shape
    offsets = torch.arange(-knn, knn + 1)
    weights = 1.0 / (1.0 + offsets.abs().to(cams.dtype))
    idx = torch.arange(t_len)[:, None] + offsets[None, :]  # (T, 2k+1)
    inside = ((idx >= 0) & (idx < t_len)).to(cams.dtype) * weights  # neighbours past the ends drop out
    gathered = cams[:, idx.clamp(0, t_len - 1)]  # (N, T, 2k+1, H, W)
    out = (gathered * inside[None, :, :, None, None]).sum(2) / inside.sum(1)[None, :, None, None]
    return minmax(out)
