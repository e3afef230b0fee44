"""Maps → boxes and the localisation metrics of TrCAM-V (spec §4–5).

- ``largest_component`` follows the wsol-evaluation protocol as TrCAM runs it (``box_v2_metric False``):
  threshold the map at τ · max(map), keep the largest 8-connected component (its box is the prediction).
- ``corloc``: fraction of frames whose box has IoU ≥ 0.5 with the true box, computed **per class, then
  averaged** over the classes present (``corloc_perclass.py``).
- ``pixel_iou``: IoU of the thresholded map with the exact mask, averaged over frames.
- ``seed_precision``: fraction of foreground seeds inside the true mask and of background seeds outside.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# 8-connectivity within a frame, none across frames: label a whole (F, H, W) stack in one call
_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[1] = True


def largest_component(maps: np.ndarray, tau: float | np.ndarray) -> np.ndarray:
    """(F, H, W) bool: the largest 8-connected component of {map ≥ τ·max(map)} in each frame (vectorised)."""
    maps = np.asarray(maps, dtype=np.float64)
    tau = np.broadcast_to(np.asarray(tau, dtype=np.float64), (len(maps),))
    peak = maps.reshape(len(maps), -1).max(1)
    on = (maps >= (tau * peak)[:, None, None]) & (peak > 0)[:, None, None]
    labels, n = ndimage.label(on, structure=_IN_PLANE)
    if n == 0:
        return on
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    frame_of = np.zeros(n + 1, dtype=np.int64)
    frame_of[labels.ravel()] = np.repeat(np.arange(len(maps)), maps[0].size)
    sizes[0] = -1  # the unlabelled background never wins
    order = np.lexsort((sizes, frame_of))  # by frame, then by size: the last label of each frame is its largest
    grouped = frame_of[order]
    last = np.r_[grouped[1:] != grouped[:-1], True]
    best = np.zeros(len(maps), dtype=np.int64)
    best[grouped[last]] = order[last]
    best[~on.reshape(len(maps), -1).any(1)] = -1
    return labels == best[:, None, None]


def corloc(ious: np.ndarray, classes: np.ndarray, threshold: float = 0.5) -> float:
    """Per-class CorLoc averaged over the classes present: mean_c mean_{i: class_i = c} [IoU_i ≥ threshold]."""
    ious, classes = np.asarray(ious, dtype=np.float64).ravel(), np.asarray(classes).ravel()
    if ious.shape != classes.shape or ious.size == 0:
        raise ValueError(f"need one class per IoU, got {ious.shape} and {classes.shape}")
    present, inverse = np.unique(classes, return_inverse=True)
    hits = np.bincount(inverse, weights=ious >= threshold, minlength=len(present))
    return float(np.mean(hits / np.bincount(inverse, minlength=len(present))))


def pixel_iou(pred: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(F,) IoU of boolean predictions with boolean masks (F, H, W); both empty gives 1."""
    pred, masks = np.asarray(pred, dtype=bool), np.asarray(masks, dtype=bool)
    inter = (pred & masks).sum((-2, -1))
    union = (pred | masks).sum((-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def seed_precision(fg_points: np.ndarray, bg_points: np.ndarray, masks: np.ndarray) -> tuple[float, float]:
    """(fraction of foreground seeds inside the mask, fraction of background seeds outside); (F, N) vs (F, H, W)."""
    flat = np.asarray(masks, dtype=bool).reshape(len(masks), -1)
    fg, bg = np.asarray(fg_points, dtype=bool), np.asarray(bg_points, dtype=bool)
    fg_in = (fg & flat).sum() / max(fg.sum(), 1)
    bg_out = (bg & ~flat).sum() / max(bg.sum(), 1)
    return float(fg_in), float(bg_out)
