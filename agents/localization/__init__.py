"""TrCAM-V agent parts (Murtaza et al. 2024): weakly supervised video object localisation from pseudo-pixels.

    backbone = FrozenViT(vit, features="attention")          # the project's pre-trained image–text ViT, frozen
    cams = text_grad_cam(dual_encoder, frames, class_text, tags)   # pseudo-label source (+ corrupt_cams noise)
    seeds = PseudoPixelSampler()(cams, generator)             # Otsu ROI, top 60 % / bottom 10 %, 3×3 dilation
    loss = partial_cross_entropy(logits, seeds.labels) + λ * dense_crf_loss(softmax(logits), 255 * frames)
    box = mask_boxes(largest_component(decoder.foreground(maps), tau))
"""

from agents.localization.backbone import FEATURES, BackboneOutput, FrozenViT
from agents.localization.cams import corrupt_cams, minmax, temporal_cams, text_grad_cam
from agents.localization.decoder import ClassificationHead, DecoderBlock, LocalisationDecoder
from agents.localization.losses import bilateral_affinity, dense_crf_loss, partial_cross_entropy
from agents.localization.metrics import corloc, largest_component, pixel_iou, seed_precision
from agents.localization.seeds import IGNORE, PseudoPixelSampler, Seeds, otsu_thresholds
from agents.localization.training import DecoderTraining, encode_frames, predict_maps, train_classifier, train_decoder

__all__ = [
    "FEATURES", "IGNORE", "BackboneOutput", "ClassificationHead", "DecoderBlock", "DecoderTraining", "FrozenViT",
    "LocalisationDecoder", "PseudoPixelSampler", "Seeds", "bilateral_affinity", "corloc", "corrupt_cams",
    "dense_crf_loss", "encode_frames", "largest_component", "minmax", "otsu_thresholds", "partial_cross_entropy",
    "pixel_iou", "predict_maps", "seed_precision", "temporal_cams", "text_grad_cam", "train_classifier",
    "train_decoder",
]
