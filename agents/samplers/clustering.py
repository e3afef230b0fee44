"""kNN mode separation of live points (spec §5, ``gradNS/utils.get_knn_clusters``).

For k = 1, 2, …, n/2 build the k-nearest-neighbour graph of the points (symmetrised) and take its
connected components; stop at the first k whose sorted component sizes equal those at k − 1 *and*
whose smallest component has more than ``min_size`` points (gradNS: 2d). More than one component
means separate modes. Distances run in torch on the points' device; the graph search runs on CPU
(``scipy.sparse.csgraph``), which also makes it safe on CUDA (gradNS called ``.numpy()`` on GPU tensors).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components


def knn_components(x: torch.Tensor, min_size: int) -> np.ndarray | None:
    """Component labels (n,) of the first stable kNN graph of `x` (n, d), or None if it is one component."""
    n = x.shape[0]
    if n < 2 * (min_size + 1):
        return None
    dist = torch.cdist(x, x)
    dist.fill_diagonal_(torch.inf)
    k_max = n // 2
    neighbours = dist.topk(k_max, dim=1, largest=False).indices.cpu().numpy()
    previous = [1] * n  # k = 0: every point alone
    for k in range(1, k_max + 1):
        rows = np.repeat(np.arange(n), k)
        graph = csr_matrix((np.ones(n * k), (rows, neighbours[:, :k].ravel())), shape=(n, n))
        n_comp, labels = connected_components(graph, directed=False)
        sizes = sorted(np.bincount(labels).tolist())
        if sizes == previous and sizes[0] > min_size:
            return labels if n_comp > 1 else None
        if n_comp == 1:
            return None
        previous = sizes
    return None
