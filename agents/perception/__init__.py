"""Perception models (image encoders). Import from the submodules, e.g. ``agents.perception.convnets``."""

# ViT and text encoder (image–text pretraining: SPARC, CLIP, SigLIP; reused by Llip).
from agents.perception.text import TextConfig, TextEncoder, TextOutput  # noqa: E402
from agents.perception.vit import Block, ViT, ViTConfig, ViTOutput  # noqa: E402
