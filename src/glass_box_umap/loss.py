"""UMAP's fuzzy cross-entropy in the embedding, and the curve it is measured with."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy.optimize import curve_fit
from torch.nn import functional as F

#: Added to squared distances in the repulsive term, as umap-learn's optimiser does,
#: so that coincident points repel with a large but finite force.
REPULSION_EPS = 1e-3
#: Squared distances are clamped here in the attractive term so that log(0) never occurs.
ATTRACTION_EPS = 1e-10


@lru_cache(maxsize=64)
def find_ab_params(spread: float = 1.0, min_dist: float = 0.1) -> tuple[float, float]:
    """Fit ``a, b`` of ``1 / (1 + a d^(2b))`` to UMAP's offset exponential.

    The target curve is 1 for ``d < min_dist`` and ``exp(-(d - min_dist) / spread)``
    beyond; the least-squares fit on ``[0, 3 spread]`` is the one umap-learn uses.
    """

    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    xv = np.linspace(0, spread * 3, 300)
    yv = np.where(xv < min_dist, 1.0, np.exp(-(xv - min_dist) / spread))
    (a, b), _ = curve_fit(curve, xv, yv)
    return float(a), float(b)


def umap_loss(
    head: torch.Tensor,
    tail: torch.Tensor,
    negatives: torch.Tensor,
    a: float,
    b: float,
    repulsion_strength: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy between the fuzzy graph and the embedding's low-dimensional similarities.

    Edges arrive already sampled in proportion to their weight, so each positive pair
    contributes ``-log q`` and each negative pair ``-log(1 - q)``, with
    ``q = 1 / (1 + a d^(2b))``. Both are softplus of ``log(a d^(2b))``, which is stable
    for tiny and huge distances alike.

    Parameters
    ----------
    head, tail : tensors of shape (n_edges, n_components)
        Embeddings of the two ends of each sampled edge.
    negatives : tensor of shape (n_edges, negative_sample_rate, n_components)
        Embeddings of the points each head is pushed away from.
    a, b : float
        Curve parameters from :func:`find_ab_params`.
    repulsion_strength : float
        Weight of the repulsive term.

    Returns
    -------
    loss, attraction, repulsion : scalar tensors
        ``loss = attraction + repulsion_strength * repulsion``, each summed over pairs
        and divided by the number of positive edges.
    """
    n_edges = head.shape[0]
    log_a = float(np.log(a))
    d2_pos = (head - tail).square().sum(-1).clamp_min(ATTRACTION_EPS)
    d2_neg = (head.unsqueeze(1) - negatives).square().sum(-1) + REPULSION_EPS
    attraction = F.softplus(log_a + b * torch.log(d2_pos)).sum() / n_edges
    repulsion = F.softplus(-(log_a + b * torch.log(d2_neg))).sum() / n_edges
    return attraction + repulsion_strength * repulsion, attraction, repulsion
