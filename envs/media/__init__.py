"""The media-stream world: captioned shape scenes with exact per-word masks (SPARC, CLIP, SigLIP, Llip).

``shapes`` draws scenes and their ground truth, ``captions`` the tokenizer and captions, ``datasets`` the
seeded batches (numpy / torch), and two Gymnasium envs evaluate models: ``recast/MediaGrounding-v0``
(heat-map over patches, reward IoU) and ``recast/MediaZeroShot-v0`` (32-way zero-shot classification).
"""

from __future__ import annotations

from envs.media.captions import VOCAB, Vocabulary, captions, class_prompts
from envs.media.datasets import ImageTextStream, MediaBatch, MediaDataset, MediaWorld
from envs.media.shapes import COLOURS, N_CLASSES, SHAPES, SIZES, Scenes, WorldSpec, sample_scenes

__all__ = [
    "COLOURS", "N_CLASSES", "SHAPES", "SIZES", "VOCAB", "ImageTextStream", "MediaBatch", "MediaDataset",
    "MediaWorld", "Scenes", "Vocabulary", "WorldSpec", "captions", "class_prompts", "sample_scenes",
]
