"""Perception models (image encoders). Import from the submodules, e.g. ``agents.perception.convnets``."""
