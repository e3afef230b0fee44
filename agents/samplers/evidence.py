"""Nested-sampling evidence bookkeeping with clusters: the moment recursions of spec §1.1.

Following PolyChord (Handley et al. 2015, appendix) and ``gradNS/summaries.py``, we carry in log space
E[Z], E[Z²] and, per cluster p, E[Z_p], E[Z_p²], E[Z X_p], E[Z_p X_p], E[X_p X_q] (E[X_p²] on the
diagonal) and E[X_p]. Killing the lowest of the n live points of cluster p (log-likelihood ℓ) shrinks
X_p by t ~ Beta(n, 1) (E t = n/(n+1), E t² = n/(n+2)), which updates (all on the old values):

    Z      += X_p L/(n+1)                      Z X_p   = n/(n+1) Z X_p + n X_p² L/((n+1)(n+2))
    Z²     += 2 Z X_p L/(n+1) + 2 X_p² L²/((n+1)(n+2))
    Z X_q  += X_p X_q L/(n+1)   (q ≠ p)       X_p     = n/(n+1) X_p,  X_p² = n/(n+2) X_p²,
                                               X_p X_q = n/(n+1) X_p X_q (q ≠ p)

and the same for Z_p, Z_p², Z_p X_p. Here n counts the cluster's live points *before* the removal
(spec §1.1 says "after"; with that count X shrinks by (n−1)/n instead of n/(n+1) per death, an error
of ≈ 1/n² per death against ≈ 1/n of ln X, so ln Z is biased low by ≈ D_KL Σ1/m² / Σ1/m over the
deaths: D_KL/n_live for one-at-a-time deaths, and D_KL/(n_live ln 2) in GGNS's kill-half batches, where
the count runs from n down to n/2 (Σ1/m ≈ ln 2, Σ1/m² ≈ 1/n per batch). An exact-X simulation of the
batch scheme shows it (tests/agents/test_ggns.py checks the X moments), so we use the Beta(n, 1) count). The last point of a cluster (n = 1 with no replacement to come) takes the whole remaining
volume: the same formulas with n = 0 (``last=True``).

The reported evidence is the log-normal moment match ln Z ≈ 2 ln E[Z] − ½ ln E[Z²],
var(ln Z) ≈ ln E[Z²] − 2 ln E[Z]. The dead point's log prior-volume weight is ln w = ln X_p(before the
kill) − ln(n+1), so that Σ_i w_i L_i is exactly the E[Z] accumulator (we use the pre-shrink X; gradNS
uses the post-shrink X, an O(1/n) inconsistency listed in spec §8.5).
"""

from __future__ import annotations

import math

import numpy as np

NEG_INF = -math.inf
LN2 = math.log(2.0)


def _log(n: float) -> float:
    return math.log(n) if n > 0 else NEG_INF


def _lae(*xs: float) -> float:
    """ln Σ exp(x_i), exact for −∞ entries."""
    m = max(xs)
    if m == NEG_INF:
        return NEG_INF
    return m + math.log(sum(math.exp(x - m) for x in xs))


class EvidenceTracker:
    """Evidence and prior-volume moments for a set of clusters (one at the start)."""

    def __init__(self) -> None:
        self.log_z = NEG_INF
        self.log_z2 = NEG_INF
        self.log_x = np.zeros(1)  # E[X_p]
        self.log_xx = np.zeros((1, 1))  # E[X_p X_q]; diagonal E[X_p²]
        self.log_zx = np.full(1, NEG_INF)  # E[Z X_p]
        self.log_zp = np.full(1, NEG_INF)  # E[Z_p]
        self.log_zp2 = np.full(1, NEG_INF)  # E[Z_p²]
        self.log_zpxp = np.full(1, NEG_INF)  # E[Z_p X_p]

    @property
    def n_clusters(self) -> int:
        return len(self.log_x)

    @property
    def log_x_total(self) -> float:
        """ln E[X], the prior volume still enclosed by the live points of all clusters."""
        m = self.log_x.max()
        return NEG_INF if m == NEG_INF else float(m + np.log(np.exp(self.log_x - m).sum()))

    def kill(self, p: int, n: int, logl: float, last: bool = False) -> float:
        """Kill the lowest of the `n` live points of cluster `p` (log-likelihood `logl`); return its ln w.

        ``last=True``: no live point of p remains to explore its volume; the point takes all of X_p.
        """
        n = 0 if last else n
        ln1 = math.log(n + 1)
        a = logl - ln1  # ln L/(n+1)
        c = logl - ln1 - math.log(n + 2)  # ln L/((n+1)(n+2))
        b = c + logl  # ln L²/((n+1)(n+2))
        lxp, lxp2 = float(self.log_x[p]), float(self.log_xx[p, p])
        shrink, shrink2 = _log(n) - ln1, _log(n) - math.log(n + 2)

        self.log_z2 = _lae(self.log_z2, LN2 + self.log_zx[p] + a, LN2 + lxp2 + b)
        self.log_zp2[p] = _lae(self.log_zp2[p], LN2 + self.log_zpxp[p] + a, LN2 + lxp2 + b)
        others = np.arange(self.n_clusters) != p
        if others.any():
            self.log_zx[others] = np.logaddexp(self.log_zx[others], self.log_xx[p, others] + a)
        self.log_zx[p] = _lae(self.log_zx[p] + shrink, _log(n) + lxp2 + c)
        self.log_zpxp[p] = _lae(self.log_zpxp[p] + shrink, _log(n) + lxp2 + c)
        self.log_z = _lae(self.log_z, lxp + a)
        self.log_zp[p] = _lae(self.log_zp[p], lxp + a)
        self.log_x[p] = lxp + shrink
        self.log_xx[p, :] += shrink
        self.log_xx[:, p] += shrink
        self.log_xx[p, p] = lxp2 + shrink2
        return lxp - ln1

    def split(self, p: int, sizes: list[int]) -> list[int]:
        """Split cluster `p` (n = Σ sizes points) into children; child 0 keeps index p. Returns child indices.

        X_i = (n_i/n) X_p; X_i² = n_i(n_i+1)/(n(n+1)) X_p²; X_i X_j = n_i n_j/(n(n+1)) X_p²; X_i Y = (n_i/n) X_p Y
        for Y ∈ {Z, X_q}; Z_i = (n_i/n) Z_p; Z_i X_i and Z_i² scale by n_i(n_i+1)/(n(n+1)) (spec §1.1).
        """
        n, k, old = sum(sizes), len(sizes), self.n_clusters
        idx = [p] + list(range(old, old + k - 1))
        frac = np.log(np.asarray(sizes, dtype=float) / n)
        pair = np.log(np.asarray(sizes, dtype=float) * (np.asarray(sizes) + 1.0) / (n * (n + 1.0)))
        grow = lambda v: np.concatenate([v, np.full(k - 1, NEG_INF)])
        lx, lxx_pp = self.log_x[p], self.log_xx[p, p]
        xx_row, zx, zp, zp2, zpxp = self.log_xx[p].copy(), self.log_zx[p], self.log_zp[p], self.log_zp2[p], self.log_zpxp[p]
        self.log_x, self.log_zx, self.log_zp = grow(self.log_x), grow(self.log_zx), grow(self.log_zp)
        self.log_zp2, self.log_zpxp = grow(self.log_zp2), grow(self.log_zpxp)
        xx = np.full((old + k - 1, old + k - 1), NEG_INF)
        xx[:old, :old] = self.log_xx
        rest = [q for q in range(old) if q != p]
        for c, i in enumerate(idx):
            self.log_x[i] = frac[c] + lx
            self.log_zx[i] = frac[c] + zx
            self.log_zp[i] = frac[c] + zp
            self.log_zp2[i] = pair[c] + zp2
            self.log_zpxp[i] = pair[c] + zpxp
            xx[i, rest] = xx[rest, i] = frac[c] + xx_row[rest]
            for c2, j in enumerate(idx):
                xx[i, j] = pair[c] + lxx_pp if c == c2 else math.log(sizes[c] * sizes[c2] / (n * (n + 1.0))) + lxx_pp
        self.log_xx = xx
        return idx

    @staticmethod
    def _moment_match(log_m1: float, log_m2: float) -> tuple[float, float]:
        if log_m1 == NEG_INF:
            return NEG_INF, math.nan
        return 2.0 * log_m1 - 0.5 * log_m2, math.sqrt(max(log_m2 - 2.0 * log_m1, 0.0))

    def log_evidence(self) -> tuple[float, float]:
        """(mean ln Z, std ln Z) from the log-normal moment match."""
        return self._moment_match(self.log_z, self.log_z2)

    def cluster_log_evidence(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-cluster (mean ln Z_p, std ln Z_p)."""
        pairs = [self._moment_match(m1, m2) for m1, m2 in zip(self.log_zp, self.log_zp2)]
        return np.array([m for m, _ in pairs]), np.array([s for _, s in pairs])
