"""Faithfulness, mask-quality and listening metrics of an explanation (spec §2, recipe ``interpreter_brain.py``).

c = argmax p(X), p = softmax(f(X)); p_c = p_c(X), o_c = p_c(M ⊙ X) (masked-in), q_c = p_c((1 − M) ⊙ X)
(masked-out). Per sample, averaged by the caller:

- AI = 100 · 1[o_c > p_c];  AD = 100 · max(0, p_c − o_c) / p_c;  AG = 100 · max(0, o_c − p_c) / (1 − p_c)
  (0 when p_c = 1: nothing to gain);  FF = p_c − q_c;  Fid-In = 1[argmax p(M ⊙ X) = c].
- AD is computed on single-softmax probabilities. ``average_drop_recipe`` reproduces the recipe's test code,
  which applies softmax a second time to probabilities (compressed values; compare published AD with it).
- SPS: Gini index of |M| + 1e-7 (Quantus ``Sparseness`` with the recipe's 1e-7):
  G = Σ_i (2i − n − 1) m_(i) / (n Σ m_(i)) for sorted m.
- COMP: entropy −Σ w ln w of w = (|M| + 1e-12) / Σ(|M| + 1e-12) (Quantus ``Complexity``). An all-zero mask
  gives ln n (uniform); the recipe gets NaN there and drops it.
- mask IoU: |1[M > ½] ∧ IBM| / |1[M > ½] ∨ IBM| against the ideal binary mask (1 when both are empty).
- SI-SDR (zero-mean x̂, s): s_t = (⟨x̂, s⟩ / ‖s‖²) s, e = x̂ − s_t, 10 log₁₀((‖s_t‖² + ε) / (‖e‖² + ε)), ε = 1e-8:
  a silent target and a silent estimate give 0 dB instead of NaN.
"""

from __future__ import annotations

import numpy as np

FAITHFULNESS = ("AI", "AD", "AG", "FF", "Fid-In")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def faithfulness(p: np.ndarray, p_in: np.ndarray, p_out: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample AI, AD, AG, FF, Fid-In from class probabilities (B, C) of X, M ⊙ X and (1 − M) ⊙ X."""
    p, p_in, p_out = (np.asarray(a, dtype=np.float64) for a in (p, p_in, p_out))
    rows = np.arange(len(p))
    c = p.argmax(-1)
    pc, oc, qc = p[rows, c], p_in[rows, c], p_out[rows, c]
    room = 1.0 - pc
    gain = np.divide(np.maximum(0.0, oc - pc), room, out=np.zeros_like(pc), where=room > 0)
    return {"AI": 100.0 * (oc > pc), "AD": 100.0 * np.maximum(0.0, pc - oc) / pc, "AG": 100.0 * gain,
            "FF": pc - qc, "Fid-In": (p_in.argmax(-1) == c).astype(np.float64)}


def average_drop_recipe(p: np.ndarray, p_in: np.ndarray) -> np.ndarray:
    """The recipe's AD: the same formula on softmax(probabilities), i.e. a double softmax (flagged, spec §2)."""
    return faithfulness(_softmax(np.asarray(p, float)), _softmax(np.asarray(p_in, float)), _softmax(np.asarray(p, float)))["AD"]


def sparseness(mask: np.ndarray) -> np.ndarray:
    """Gini index per sample of |M| + 1e-7, (B, ...) → (B,)."""
    m = np.sort(np.abs(np.asarray(mask, dtype=np.float64)).reshape(len(mask), -1) + 1e-7, axis=1)
    n = m.shape[1]
    i = np.arange(1, n + 1)
    return ((2 * i - n - 1) * m).sum(1) / (n * m.sum(1))


def complexity(mask: np.ndarray) -> np.ndarray:
    """Entropy per sample of the normalised |M|, (B, ...) → (B,)."""
    m = np.abs(np.asarray(mask, dtype=np.float64)).reshape(len(mask), -1) + 1e-12
    w = m / m.sum(1, keepdims=True)
    return -(w * np.log(w)).sum(1)


def mask_iou(mask: np.ndarray, ibm: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """IoU of the thresholded mask with the ideal binary mask, per sample."""
    a = (np.asarray(mask) > threshold).reshape(len(mask), -1)
    b = (np.asarray(ibm) > 0.5).reshape(len(ibm), -1)
    union = (a | b).sum(1)
    return np.where(union > 0, (a & b).sum(1) / np.maximum(union, 1), 1.0)


def si_sdr(estimate: np.ndarray, reference: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Scale-invariant SDR in dB, per row of (B, N) waveforms."""
    x = np.asarray(estimate, dtype=np.float64)
    s = np.asarray(reference, dtype=np.float64)
    x, s = x - x.mean(-1, keepdims=True), s - s.mean(-1, keepdims=True)
    scale = (x * s).sum(-1, keepdims=True) / np.maximum((s * s).sum(-1, keepdims=True), eps)
    target = scale * s
    return 10 * np.log10(((target**2).sum(-1) + eps) / (((x - target) ** 2).sum(-1) + eps))
