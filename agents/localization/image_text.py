"""The pseudo-label teacher of TrCAM-V: the project's image–text model as a checkpoint, and its CAMs.

TrCAM-V uses a frozen CLIP both as the source of pseudo-labels (Grad-CAM for the class prompt) and, for the
localiser, a frozen self-supervised ViT. Here one image–text model pre-trained by the project
(:class:`~agents.contrastive.DualEncoder`: the shared ViT + text encoder under a CLIP / SigLIP / SPARC head)
plays both roles: its text side gives the class prompts, its vision tower is the frozen backbone.

Checkpoint format (``torch.save`` of plain containers, loaded with ``torch.load(weights_only=True)``)::

    {"format": "recast-image-text-v1", "arch": {image_size, patch_size, width, depth, heads, vocab_size,
     max_len, text_width, text_depth, text_heads, embed_dim}, "scale": 1/τ, "state_dict": DualEncoder weights}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from agents.contrastive import DualEncoder
from agents.localization.cams import text_grad_cam
from agents.perception import TextConfig, TextEncoder, ViT, ViTConfig

FORMAT = "recast-image-text-v1"
ARCH_KEYS = ("image_size", "patch_size", "width", "depth", "heads", "vocab_size", "max_len", "text_width",
             "text_depth", "text_heads", "embed_dim")


def build_dual_encoder(arch: dict[str, int]) -> DualEncoder:
    vit = ViT(ViTConfig(arch["image_size"], arch["patch_size"], 3, arch["width"], arch["depth"], arch["heads"]))
    text = TextEncoder(TextConfig(arch["vocab_size"], arch["max_len"], arch["text_width"], arch["text_depth"],
                                  arch["text_heads"]))
    return DualEncoder(vit, text, arch["embed_dim"])


@dataclass
class ImageTextModel:
    """A (frozen) dual encoder, its learned inverse temperature and its architecture."""

    dual: DualEncoder
    scale: float
    arch: dict[str, int]

    def save(self, path: Path) -> None:
        state = {k: v.detach().cpu() for k, v in self.dual.state_dict().items()}
        torch.save({"format": FORMAT, "arch": dict(self.arch), "scale": float(self.scale), "state_dict": state}, path)

    @torch.no_grad()
    def class_text(self, prompt_tokens: torch.Tensor, device: str = "cpu") -> torch.Tensor:
        """(C, E) class embeddings: the mean of the l2-normalised embeddings of each class's K prompts (C, K, L)."""
        c, k, length = prompt_tokens.shape
        _, text, _ = self.dual.encode_text(prompt_tokens.reshape(c * k, length).to(device))
        return F.normalize(text.view(c, k, -1).mean(1), dim=-1)

    @torch.no_grad()
    def zero_shot_logits(self, frames: torch.Tensor, class_text: torch.Tensor, device: str = "cpu",
                         batch_size: int = 256) -> torch.Tensor:
        out = [self.dual.encode_image(frames[s:s + batch_size].to(device))[1] @ class_text.T
               for s in range(0, len(frames), batch_size)]
        return self.scale * torch.cat(out).cpu()

    def cams(self, frames: torch.Tensor, tags: torch.Tensor, class_text: torch.Tensor, device: str = "cpu",
             batch_size: int = 256) -> torch.Tensor:
        """(F, H, W) Grad-CAMs in [0, 1] of each frame's tag (see :func:`agents.localization.text_grad_cam`)."""
        out = [text_grad_cam(self.dual, frames[s:s + batch_size].to(device), class_text,
                             tags[s:s + batch_size].to(device), self.scale).cpu()
               for s in range(0, len(frames), batch_size)]
        return torch.cat(out)


def load_image_text_model(path: Path, device: str = "cpu") -> ImageTextModel:
    """Read a checkpoint (``weights_only=True``); a missing or malformed file raises ValueError in one line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"image–text checkpoint {path} does not exist")
    try:
        saved: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise ValueError(f"{path} is not a readable torch checkpoint ({type(err).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint (expected a dict with format={FORMAT!r})")
    arch = saved.get("arch")
    if not isinstance(arch, dict) or any(not isinstance(arch.get(k), int) or arch[k] < 1 for k in ARCH_KEYS):
        raise ValueError(f"{path}: 'arch' must give positive integers for {', '.join(ARCH_KEYS)}")
    try:
        dual = build_dual_encoder(arch)
        dual.load_state_dict(saved["state_dict"])
        scale = float(saved["scale"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: weights do not match its 'arch' ({first})") from None
    if not scale > 0 or not torch.isfinite(torch.tensor(scale)):
        raise ValueError(f"{path}: 'scale' must be a positive finite number, got {scale}")
    dual.to(device).eval()
    for p in dual.parameters():
        p.requires_grad_(False)
    return ImageTextModel(dual=dual, scale=scale, arch={k: int(arch[k]) for k in ARCH_KEYS})
