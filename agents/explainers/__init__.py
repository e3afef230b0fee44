"""Explaining an audio classifier: L-MAC (listenable maps) and captum gradient baselines.

``classifier`` holds the small CNN on log-mel features and the expm1 → mel → log1p re-featurisation,
``decoder`` the mask decoder over the classifier's block features, ``lmac`` the L-MAC loss (+ fine-tuning
guidance) and training loop, ``baselines`` captum's Saliency / Integrated Gradients / SmoothGrad / Grad-CAM
as masks plus the chance-level masks, ``metrics`` AI, AD, AG, FF, Fid-In, SPS, COMP, mask IoU and SI-SDR.
"""

from __future__ import annotations

from agents.explainers.baselines import CHANCE_METHODS, GRADIENT_METHODS, chance_masks, gradient_masks
from agents.explainers.classifier import AudioCNN, Refeaturizer, SpectrogramClassifier, freeze
from agents.explainers.decoder import MaskDecoder
from agents.explainers.lmac import LMACLoss, lmac_masks, train_decoder, xcorr
from agents.explainers.metrics import (
    FAITHFULNESS, average_drop_recipe, complexity, faithfulness, mask_iou, si_sdr, sparseness,
)

__all__ = [
    "CHANCE_METHODS", "FAITHFULNESS", "GRADIENT_METHODS", "AudioCNN", "LMACLoss", "MaskDecoder", "Refeaturizer",
    "SpectrogramClassifier", "average_drop_recipe", "chance_masks", "complexity", "faithfulness", "freeze",
    "gradient_masks", "lmac_masks", "mask_iou", "si_sdr", "sparseness", "train_decoder", "xcorr",
]
