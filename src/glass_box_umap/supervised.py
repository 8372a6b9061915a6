"""Supervised UMAP: mixing class labels into the fuzzy graph, as umap-learn does.

umap-learn's categorical target: every edge between two labelled points of different
classes is scaled by ``exp(-far_dist)`` with ``far_dist = 2.5 / (1 - target_weight)``
(edges removed outright at ``target_weight = 1``), edges touching an unlabelled point
(label ``-1``) by ``exp(-1)``; then each row is rescaled so its strongest edge is 1 and
the graph is symmetrised again by fuzzy union (``reset_local_connectivity``). The result
equals ``umap.umap_.discrete_metric_simplicial_set_intersection`` on the same graph
(tested), without numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from sklearn.preprocessing import normalize

from .affinity import EdgeList

#: Label meaning "unlabelled", as in umap-learn.
UNLABELLED = -1
#: umap-learn's distance of an unlabelled point from any other.
_UNKNOWN_DIST = 1.0


def label_codes(y: Any, n_samples: int) -> np.ndarray:
    """Class labels as integer codes, ``-1`` kept for unlabelled samples.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Integer, string, boolean or integral float labels; ``-1`` marks unlabelled
        samples.
    n_samples : int

    Returns
    -------
    ndarray of shape (n_samples,), int64
        ``-1`` for unlabelled samples, ``0 .. n_classes - 1`` otherwise.
    """
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as err:
        raise TypeError(f"y: cannot be read as an array of labels ({err})") from None
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(f"y: expected shape ({n_samples},) to match X, got {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("y: contains NaN or infinity; mark unlabelled samples with -1")
        if not np.array_equal(y, np.round(y)):
            raise ValueError(
                "y: continuous targets are not supported; pass class labels (-1 = unlabelled)"
            )
        y = y.astype(np.int64)
    elif y.dtype.kind not in "biuUSO":
        raise TypeError(f"y: expected class labels, got dtype {y.dtype}")
    if y.dtype.kind == "O" and not all(isinstance(v, (str, int, np.integer)) for v in y):
        raise TypeError("y: object labels must be strings or integers")
    unlabelled = (y == UNLABELLED) if y.dtype.kind in "iu" else np.zeros(n_samples, bool)
    codes = np.full(n_samples, UNLABELLED, dtype=np.int64)
    if (~unlabelled).any():
        _, codes[~unlabelled] = np.unique(y[~unlabelled], return_inverse=True)
    return codes


def far_distance(target_weight: float) -> float:
    """umap-learn's distance between points of different classes for ``target_weight``."""
    return 2.5 / (1.0 - target_weight) if target_weight < 1.0 else 1.0e12


def intersect_with_labels(edges: EdgeList, codes: np.ndarray, target_weight: float) -> EdgeList:
    """The fuzzy graph weighted towards the labels.

    Parameters
    ----------
    edges : EdgeList
        The data's fuzzy graph (both directions of every edge).
    codes : ndarray of shape (n_vertices,), int64
        From :func:`label_codes`.
    target_weight : float in [0, 1]
        0 keeps the data's structure almost unchanged; 1 cuts every edge between
        different classes.

    Returns
    -------
    EdgeList
        Symmetric again, every vertex's strongest edge at weight 1.
    """
    weight = edges.weight.astype(np.float32, copy=True)
    head_label, tail_label = codes[edges.head], codes[edges.tail]
    unknown = (head_label == UNLABELLED) | (tail_label == UNLABELLED)
    weight[unknown] *= np.float32(np.exp(-_UNKNOWN_DIST))
    weight[~unknown & (head_label != tail_label)] *= np.float32(
        np.exp(-far_distance(target_weight))
    )
    n = edges.n_vertices
    graph = scipy.sparse.coo_matrix((weight, (edges.head, edges.tail)), shape=(n, n)).tocsr()
    graph.eliminate_zeros()
    graph = normalize(graph, norm="max")
    transpose = graph.transpose()
    graph = (graph + transpose - graph.multiply(transpose)).tocsr()
    graph.eliminate_zeros()
    return EdgeList.from_sparse(graph)
