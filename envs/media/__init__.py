"""The media-stream world: captioned shape scenes with exact per-word masks (SPARC, CLIP, SigLIP, Llip).

``shapes`` draws scenes and their ground truth, ``captions`` the tokenizer and captions, ``datasets`` the
seeded batches (numpy / torch), and two Gymnasium envs evaluate models: ``recast/MediaGrounding-v0``
(heat-map over patches, reward IoU) and ``recast/MediaZeroShot-v0`` (32-way zero-shot classification).
Multi-object scenes with single-object captions (Llip's caption diversity) add ``recast/MediaObjectRetrieval-v0``
(find an image a one-object caption is true of) and ``recast/MediaMultiLabel-v0`` (zero-shot multi-label detection).
"""

from __future__ import annotations

from envs.media.captions import ANY, VOCAB, Vocabulary, all_object_queries, captions, class_prompts, describes
from envs.media.datasets import (ImageTextStream, MediaBatch, MediaDataset, MediaWorld, ObjectCaptionBatch,
                                 ObjectCaptionStream)
from envs.media.shapes import COLOURS, N_CLASSES, SHAPES, SIZES, Scenes, WorldSpec, sample_scenes

__all__ = [
    "ANY", "COLOURS", "N_CLASSES", "SHAPES", "SIZES", "VOCAB", "ImageTextStream", "MediaBatch", "MediaDataset",
    "MediaWorld", "ObjectCaptionBatch", "ObjectCaptionStream", "Scenes", "Vocabulary", "WorldSpec",
    "all_object_queries", "captions", "class_prompts", "describes", "sample_scenes",
]
