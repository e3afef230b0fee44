"""Probes of an image–text dual encoder against the media world's exact ground truth.

Every probe uses the shared embedding space only (no head parameters), so CLIP, SigLIP, SPARC (and later Llip's
encoders) are measured the same way:

* zero-shot classification: arg-max cosine between the image and the 32 ``"<size> <colour> <shape>"`` prompts;
* retrieval R@k, image→text and text→image, where a hit is any item describing the *same set of objects*
  (captions of different images can coincide, so exact-index hits would be ill-defined);
* grounding: for every content word of a caption (in context), the heat-map ŝ_lp = min–max_p(t_l · v_p) —
  SPARC's eq. 2 — binarised at 0.5 and compared with the word's exact patch mask (IoU), plus the pointing game
  (is arg-max_p inside the mask); the Gymnasium grounding env uses the same heat-map for a query phrase;
* binding (Winoground-style): the true caption must outscore the caption with two objects' colours swapped.

Caption-conditioned models (Llip) score each (image, caption) pair through cross-attention, so their probes take a
score matrix instead (:func:`conditioned_scores`): per-object retrieval, caption coverage and multi-label detection
against the exact validity of one-object captions (:func:`envs.media.captions.describes`).
"""

from __future__ import annotations

import numpy as np
import torch

from scipy.stats import rankdata

from agents.contrastive import DualEncoder, LlipDualEncoder
from envs.media.captions import KIND_COLOUR, KIND_NAMES, KIND_SHAPE, KIND_SIZE, VOCAB
from envs.media.datasets import MediaBatch
from envs.media.grounding_env import GroundingEnv, patch_iou
from envs.media.object_envs import average_precision
from envs.media.shapes import WorldSpec
from envs.media.zero_shot_env import ZeroShotEnv


@torch.no_grad()
def embed(model: DualEncoder, batch: MediaBatch, device: str, chunk: int = 512) -> dict[str, np.ndarray]:
    """Patch, image, token and text embeddings of a batch (numpy; evaluation mode)."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {"patches": [], "image": [], "tokens": [], "text": []}
    for start in range(0, len(batch), chunk):
        images = torch.from_numpy(batch.images[start : start + chunk]).to(device)
        tokens = torch.from_numpy(batch.tokens[start : start + chunk]).to(device)
        patches, image = model.encode_image(images)
        token_emb, text, _ = model.encode_text(tokens)
        for key, value in zip(parts, (patches, image, token_emb, text)):
            parts[key].append(value.float().cpu().numpy())
    model.train()
    return {k: np.concatenate(v) for k, v in parts.items()}


@torch.no_grad()
def embed_texts(model: DualEncoder, tokens: np.ndarray, device: str) -> np.ndarray:
    model.eval()
    out = model.encode_text(torch.from_numpy(tokens).to(device))[1].float().cpu().numpy()
    model.train()
    return out


def heatmaps(queries: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """Min–max normalised similarities (…, Q, P) of query embeddings (N, Q, E) with patch embeddings (N, P, E)."""
    sim = np.einsum("nqe,npe->nqp", queries, patches)
    lo, hi = sim.min(-1, keepdims=True), sim.max(-1, keepdims=True)
    return (sim - lo) / (hi - lo + 1e-6)


def zero_shot_accuracy(image: np.ndarray, labels: np.ndarray, prompts: np.ndarray) -> float:
    """Accuracy of arg-max_c cos(image, prompt_c) against `labels` (N,)."""
    return float(((image @ prompts.T).argmax(1) == labels).mean())


def scene_ids(labels: np.ndarray) -> np.ndarray:
    """An integer id per scene for its multiset of object classes (equal ids = equal captions up to order)."""
    keys = np.sort(np.where(labels < 0, np.iinfo(np.int64).max, labels), axis=1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)


def retrieval(image: np.ndarray, text: np.ndarray, ids: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """R@k both ways; an item is relevant when it describes the same object set (``ids`` equal)."""
    return retrieval_from_scores(image @ text.T, ids, ks)


def retrieval_from_scores(scores: np.ndarray, ids: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """:func:`retrieval` from an (images, texts) score matrix (any scorer, e.g. caption-conditioned)."""
    relevant = ids[:, None] == ids[None, :]
    out = {}
    for direction, s, rel in (("i2t", scores, relevant), ("t2i", scores.T, relevant.T)):
        order = np.argsort(-s, axis=1, kind="stable")
        for k in ks:
            out[f"{direction}_r{k}"] = float(np.take_along_axis(rel, order[:, :k], axis=1).any(1).mean())
    return out


def grounding(token_emb: np.ndarray, patches: np.ndarray, batch: MediaBatch, threshold: float = 0.5
              ) -> dict[str, float]:
    """Caption-token grounding: mIoU (heat ≥ threshold vs exact mask) and pointing over content words, by kind."""
    heat = heatmaps(token_emb, patches)  # (N, L, P)
    masks = batch.token_masks()
    content = batch.token_object >= 0
    iou = patch_iou(heat, masks, threshold)  # (N, L)
    hit = np.take_along_axis(masks, heat.argmax(-1)[..., None], axis=-1)[..., 0]
    kinds = VOCAB.kinds[batch.tokens]
    out = {"grounding_miou": float(iou[content].mean()), "pointing": float(hit[content].mean())}
    for kind in (KIND_SIZE, KIND_COLOUR, KIND_SHAPE):
        out[f"miou_{KIND_NAMES[kind]}"] = float(iou[kinds == kind].mean())
    return out


def binding_accuracy(model: DualEncoder, batch: MediaBatch, image: np.ndarray, spec: WorldSpec, device: str) -> float:
    """Fraction of scenes (≥ 2 objects, different colours) whose caption beats its colour-swapped twin.

    Only swaps that produce seen (colour, shape) pairs are used, so the negative is never out of distribution.
    """
    a = batch.attributes
    seen = np.zeros((4, 4), dtype=bool)
    seen[tuple(spec.combos("train").T)] = True
    is_colour = VOCAB.kinds[batch.tokens] == KIND_COLOUR
    named = [is_colour & (batch.token_object == j) for j in (0, 1)]  # colour word of objects 0 and 1
    ok = (batch.n_objects >= 2) & named[0].any(1) & named[1].any(1) & (a[:, 0, 1] != a[:, 1, 1])
    ok &= seen[a[:, 1, 1].clip(0), a[:, 0, 2].clip(0)] & seen[a[:, 0, 1].clip(0), a[:, 1, 2].clip(0)]
    if not ok.any():
        return float("nan")
    rows, p0, p1 = np.flatnonzero(ok), named[0][ok].argmax(1), named[1][ok].argmax(1)
    swapped = batch.tokens[ok].copy()
    swapped[np.arange(len(rows)), p0] = batch.tokens[rows, p1]
    swapped[np.arange(len(rows)), p1] = batch.tokens[rows, p0]
    true_text = embed_texts(model, batch.tokens[ok], device)
    swap_text = embed_texts(model, swapped, device)
    return float(((image[ok] * true_text).sum(1) > (image[ok] * swap_text).sum(1)).mean())


@torch.no_grad()
def grounding_env_return(model: DualEncoder, env: GroundingEnv, steps: int, seed: int, device: str) -> float:
    """Mean reward (IoU) of the heat-map policy min–max_p(t_query · v_p) over `steps` env queries."""
    model.eval()
    obs, _ = env.reset(seed=seed)
    rewards = []
    for _ in range(steps):
        patches, _ = model.encode_image(torch.from_numpy(obs["image"][None]).to(device))
        query = model.encode_text(torch.from_numpy(obs["query"][None]).to(device))[1]
        heat = heatmaps(query[:, None].cpu().numpy(), patches.cpu().numpy())[0, 0]
        obs, reward, terminated, _, _ = env.step(heat.astype(np.float32))
        rewards.append(reward)
        if terminated:
            obs, _ = env.reset()
    model.train()
    return float(np.mean(rewards))


@torch.no_grad()
def zero_shot_env_return(model: DualEncoder, env: ZeroShotEnv, steps: int, seed: int, device: str) -> float:
    """Mean reward (accuracy) of the zero-shot policy arg-max_c cos(image, prompt_c) over `steps` env scenes."""
    prompts = embed_texts(model, env.prompt_tokens, device)
    model.eval()
    obs, _ = env.reset(seed=seed)
    rewards = []
    for _ in range(steps):
        image = model.encode_image(torch.from_numpy(obs[None]).to(device))[1].cpu().numpy()
        obs, reward, terminated, _, _ = env.step(int((image @ prompts.T).argmax()))
        rewards.append(reward)
        if terminated:
            obs, _ = env.reset()
    model.train()
    return float(np.mean(rewards))


@torch.no_grad()
def conditioned_scores(model: LlipDualEncoder, images: np.ndarray, tokens: np.ndarray, device: str,
                       chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Llip's s(image n | caption m) (N, M) and attention α (N, M, H, K); images encoded once, captions in chunks."""
    model.eval()
    states = [model.encode_mixture(torch.from_numpy(images[i : i + chunk]).to(device))[1]
              for i in range(0, len(images), chunk)]
    keys, values = torch.cat([s.keys for s in states]), torch.cat([s.values for s in states])
    text = torch.cat([model.encode_text(torch.from_numpy(tokens[i : i + chunk]).to(device))[1]
                      for i in range(0, len(tokens), chunk)])
    state = type(states[0])(keys, values)
    scores, alpha = model.cross_attention.scores(state, text, chunk)
    model.train()
    return scores.float().cpu().numpy(), alpha.float().cpu().numpy()


def object_retrieval(scores: np.ndarray, valid: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Per-object retrieval from (N images, M one-object captions) scores: a hit is any image the caption is true of.

    ``obj_t2i_r{k}``: some valid image among the caption's top k; ``obj_i2t_r1``: the image's top caption is valid.
    """
    order = np.argsort(-scores.T, axis=1, kind="stable")  # captions × ranked images
    hits = np.take_along_axis(valid.T, order, axis=1)
    out = {f"obj_t2i_r{k}": float(hits[:, :k].any(1).mean()) for k in ks}
    out["obj_i2t_r1"] = float(valid[np.arange(len(valid)), scores.argmax(1)].mean())
    return out


def caption_coverage(scores: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Per image, ROC-AUC of its scores over a caption set, valid vs invalid (ties count ½), averaged.

    ``coverage_auc``: mean AUC over images with both kinds; ``coverage_all``: fraction of those images where every
    valid caption outscores every invalid one (AUC = 1).
    """
    n_pos, n_neg = valid.sum(1), (~valid).sum(1)
    both = (n_pos > 0) & (n_neg > 0)
    ranks = rankdata(scores[both], axis=1)  # average ranks for ties
    pos = n_pos[both]
    auc = ((ranks * valid[both]).sum(1) - pos * (pos + 1) / 2) / (pos * n_neg[both])
    return {"coverage_auc": float(auc.mean()), "coverage_all": float((auc >= 1.0 - 1e-12).mean())}


def detection(scores: np.ndarray, present: np.ndarray, n_val: int) -> dict[str, float]:
    """Zero-shot multi-label detection from (N images, Q labels) scores.

    ``detection_map``: mean over labels (with positives) of the AP over the images after the first `n_val`;
    ``detection_acc``: accuracy over (image, label) decisions there, at the one threshold that is best on the
    first `n_val` images (validation).
    """
    if not 0 < n_val < len(scores):
        raise ValueError(f"n_val must be in (0, {len(scores)}), got {n_val}")
    ap = average_precision(scores[n_val:].T, present[n_val:].T)
    val_scores, val_present = scores[:n_val].ravel(), present[:n_val].ravel()
    candidates = np.append(np.unique(val_scores), np.inf)  # inf: "nothing is present"
    order = np.argsort(val_scores, kind="stable")
    # accuracy of "present iff score >= c" for every candidate c, from cumulative counts (vectorised)
    below = np.searchsorted(val_scores[order], candidates, side="left")
    pos_below = np.concatenate([[0], np.cumsum(val_present[order])])[below]
    correct = (below - pos_below) + (val_present.sum() - pos_below)
    best = int(np.argmax(correct))
    threshold = candidates[best] if best in (0, len(candidates) - 1) else 0.5 * (candidates[best - 1]
                                                                                   + candidates[best])  # midpoint
    accuracy = float(((scores[n_val:] >= threshold) == present[n_val:]).mean())
    return {"detection_map": float(np.nanmean(ap)), "detection_acc": accuracy}
