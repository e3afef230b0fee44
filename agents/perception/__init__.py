"""Perception models shared across methods: one ViT, one text encoder, small CNNs and ResNets.

- ``agents.perception.vit``: ViT image encoder (patch tokens + pooled embedding) — SPARC, CLIP, SigLIP, Llip.
- ``agents.perception.text``: transformer text encoder (token embeddings + pooled embedding).
- ``agents.perception.convnets``: small CNN and CIFAR-style ResNets (Lookbehind-SAM).
"""

from agents.perception.text import TextConfig, TextEncoder, TextOutput
from agents.perception.vit import Block, ViT, ViTConfig, ViTOutput

__all__ = ["Block", "TextConfig", "TextEncoder", "TextOutput", "ViT", "ViTConfig", "ViTOutput"]
