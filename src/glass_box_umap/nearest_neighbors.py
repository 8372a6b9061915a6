"""Nearest neighbours: the metrics, the searches, and neighbours given by the caller.

Every search returns ``(indices, distances)`` of shape (n_samples, n_neighbors), each
point itself first at distance 0, then its neighbours by increasing distance (umap-learn's
convention). :func:`nearest_neighbors` picks the search (:func:`resolve_knn_method`):
exact blocked matrix products on the CPU or a GPU (:func:`exact_knn`), pynndescent
(:func:`approximate_knn`) or FAISS (:func:`faiss_knn`), for the metrics
:func:`check_metric` accepts. Neighbours can also be read off a square distance matrix
(``metric='precomputed'``, :func:`knn_from_distances`) or come from the caller
(``precomputed_knn``, :func:`check_precomputed_knn`); both are checked before use. The
fuzzy graph built on them is :mod:`glass_box_umap.affinity`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse
import torch

from ._validation import check_float

#: Every metric name pynndescent knows (``pynndescent.distances.named_distances`` in
#: pynndescent 0.7; a test keeps the two equal). ``knn_method='pynndescent'`` serves all.
PYNNDESCENT_METRICS = (
    "bit_hamming", "bit_jaccard", "braycurtis", "canberra", "chebyshev",
    "circular_kantorovich", "circular_wasserstein", "correlation", "cosine", "dice",
    "direct_cosine", "dot", "euclidean", "hamming", "haversine", "hellinger",
    "inner_product", "jaccard", "jensen-shannon", "jensen_shannon", "kantorovich",
    "kantorovich-1d", "kantorovich_1d", "kulsinski", "l1", "l2", "linf", "linfinity",
    "linfty", "mahalanobis", "manhattan", "matching", "minkowski", "rogerstanimoto",
    "russellrao", "seuclidean", "sinkhorn", "sokalmichener", "sokalsneath", "spearmanr",
    "sqeuclidean", "standardised_euclidean", "symmetric-kl", "symmetric_kl",
    "symmetric_kullback_liebler", "taxicab", "true_angular", "tsss", "wasserstein",
    "wasserstein-1d", "wasserstein_1d", "weighted_minkowski", "wminkowski", "yule",
)  # fmt: skip
#: ``metric='precomputed'``: the data is a square distance matrix (:func:`knn_from_distances`).
PRECOMPUTED = "precomputed"
#: Every name ``metric`` takes.
ALL_METRICS = (*PYNNDESCENT_METRICS, PRECOMPUTED)
#: The metrics exact blocked search serves, by their canonical names (aliases in
#: ``METRIC_ALIASES``); ``knn_method='auto'`` searches these exactly up to
#: ``EXACT_KNN_MAX_SAMPLES`` rows, and every other metric with pynndescent.
METRICS = (
    "euclidean",
    "sqeuclidean",
    "manhattan",
    "chebyshev",
    "minkowski",
    "cosine",
    "correlation",
)
#: pynndescent's other names for metrics of ``METRICS``.
METRIC_ALIASES = {
    "l2": "euclidean",
    "l1": "manhattan",
    "taxicab": "manhattan",
    "linf": "chebyshev",
    "linfinity": "chebyshev",
    "linfty": "chebyshev",
}
#: The metrics FAISS serves: L2 search, on normalised rows for the angular ones.
FAISS_METRICS = ("euclidean", "sqeuclidean", "cosine", "correlation")
#: ``metric_kwds`` the exact search understands, per metric; pynndescent takes any.
EXACT_METRIC_KWDS = {"minkowski": ("p",)}
KNN_METHODS = ("auto", "exact", "pynndescent", "faiss")

#: Above this many samples on the CPU, ``knn_method='auto'`` leaves the exact blocked
#: search for an approximate one. Exact search costs O(n^2 d) (``python benchmarks/scale.py``
#: times it).
EXACT_KNN_MAX_SAMPLES = 20_000
#: Memory for one block of exact-search scores on the CPU (and for refining approximate
#: neighbours, and for one block of rows of a dense precomputed distance matrix), in bytes.
EXACT_KNN_BLOCK_BYTES = 256 * 2**20
#: The same on a GPU, where a quarter of the free memory is used up to this much: larger
#: blocks mean fewer, fuller matrix products and top-k launches.
EXACT_KNN_GPU_BLOCK_BYTES = 4 * 2**30
#: FAISS HNSW settings for large data on the CPU (see :func:`faiss_knn`).
FAISS_HNSW_M = 16
FAISS_HNSW_EF_CONSTRUCTION = 64
FAISS_HNSW_EF_SEARCH = 48

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BEYOND_FLOAT32 = (
    "finite distances must be within the float32 range (3.4e38; inf: not a neighbour); "
    "rescale the matrix"
)


# ---------------------------------------------------------------- checks
def _canonical(metric: str) -> str:
    return METRIC_ALIASES.get(metric, metric)


def _methods_serving(metric: str) -> tuple[str, ...]:
    """The explicit ``knn_method`` values that can search ``metric`` (a canonical name)."""
    if metric == PRECOMPUTED:
        return ("exact",)
    methods = ("exact",) if metric in METRICS else ()
    if metric in FAISS_METRICS:
        methods += ("faiss",)
    return (*methods, "pynndescent")


def check_metric(
    metric: Any, metric_kwds: Mapping[str, Any] | None = None, knn_method: str = "auto"
) -> dict[str, Any]:
    """Check that ``knn_method`` can search ``metric`` with ``metric_kwds``.

    Cheap: run it before any search. Exact search serves ``METRICS`` (and their
    ``METRIC_ALIASES``) with the keywords of ``EXACT_METRIC_KWDS`` (``minkowski``: ``p``,
    default 2); FAISS serves ``FAISS_METRICS`` without keywords; pynndescent serves every
    name of ``PYNNDESCENT_METRICS`` and receives ``metric_kwds`` as they are;
    ``'precomputed'`` is read off the distance matrix (``knn_method`` ``'auto'`` or
    ``'exact'``). ``'auto'`` serves every metric (:func:`resolve_knn_method`).

    Parameters
    ----------
    metric : str
        A name of ``ALL_METRICS``.
    metric_kwds : dict, optional
        Keyword arguments of the metric, such as ``{'p': 3}`` for ``minkowski``.
    knn_method : {'auto', 'exact', 'pynndescent', 'faiss'}

    Returns
    -------
    metric_kwds : dict
        A copy (empty for None).

    Raises
    ------
    TypeError, ValueError
        Naming ``knn_method``, ``metric`` or ``metric_kwds``; a metric the chosen
        ``knn_method`` cannot search names the methods that can.
    """
    if not isinstance(knn_method, str) or knn_method not in KNN_METHODS:
        raise ValueError(f"knn_method: expected one of {list(KNN_METHODS)}, got {knn_method!r}")
    if not isinstance(metric, str):
        raise TypeError(f"metric: expected a metric name (str), got {type(metric).__name__}")
    if metric not in ALL_METRICS:
        raise ValueError(f"metric: unknown metric {metric!r}; available: {list(ALL_METRICS)}")
    if metric_kwds is None:
        kwds: dict[str, Any] = {}
    elif isinstance(metric_kwds, Mapping) and all(isinstance(k, str) for k in metric_kwds):
        kwds = dict(metric_kwds)
    else:
        raise TypeError(
            "metric_kwds: expected None or a dict from keyword names (str) to values, "
            f"got {type(metric_kwds).__name__} {metric_kwds!r}"
        )
    name = _canonical(metric)
    serving = _methods_serving(name)
    if knn_method != "auto" and knn_method not in serving:
        choices = ", ".join(repr(m) for m in ("auto", *serving))
        raise ValueError(
            f"knn_method: {knn_method!r} cannot search metric {metric!r}; "
            f"use knn_method in ({choices})"
        )
    if (
        name == PRECOMPUTED
        or knn_method == "faiss"
        or (name in METRICS and knn_method != "pynndescent")
    ):
        allowed = () if knn_method == "faiss" else EXACT_METRIC_KWDS.get(name, ())
        unknown = sorted(set(kwds) - set(allowed))
        if unknown:
            takes = f"only {list(allowed)}" if allowed else "no keywords"
            where = (
                ""
                if name == PRECOMPUTED
                else "; knn_method='pynndescent' passes any to pynndescent"
            )
            raise ValueError(
                f"metric_kwds: metric {metric!r} with knn_method={knn_method!r} takes {takes}, "
                f"got {unknown}{where}"
            )
    if name == "minkowski" and "p" in kwds:
        kwds["p"] = check_float("metric_kwds['p']", kwds["p"], 0.0, low_inclusive=False)
    return kwds


def check_n_neighbors(n_neighbors: Any, n_samples: int) -> int:
    """``n_neighbors`` as an int in ``[2, n_samples]``, or an error naming it."""
    if isinstance(n_neighbors, (bool, np.bool_)) or not isinstance(n_neighbors, (int, np.integer)):
        raise TypeError(f"n_neighbors: expected an integer, got {type(n_neighbors).__name__}")
    if not 2 <= n_neighbors <= n_samples:
        raise ValueError(
            f"n_neighbors: must be in [2, n_samples] = [2, {n_samples}], got {n_neighbors}"
        )
    return int(n_neighbors)


#: A distance of a point to itself up to this fraction of its row's farthest kept neighbour
#: distance is rounding and read as 0 (``precomputed_knn``, ``metric='precomputed'``);
#: above it, a named error. Float32 cancellation in ``|a|^2 + |b|^2 - 2ab`` leaves ~1e-7
#: on standardised data, far below it.
SELF_DISTANCE_RTOL = 1e-3


def _is_rounded_zero(self_dist: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Whether each self-distance is 0 up to ``SELF_DISTANCE_RTOL`` of its row's ``scale``."""
    return np.asarray(self_dist <= SELF_DISTANCE_RTOL * np.asarray(scale, dtype=np.float64))


def _first_row(mask: np.ndarray) -> int:
    """The first row of a 2-D (or 1-D) boolean mask that holds a True."""
    return int(np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0])


def check_precomputed_knn(
    precomputed_knn: Any, n_samples: int, n_neighbors: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate neighbours computed elsewhere and keep the first ``n_neighbors`` of each row.

    umap-learn's ``precomputed_knn``: rows list each point itself first (distance 0),
    then its neighbours by increasing distance, as umap-learn's ``nearest_neighbors``,
    a fitted ``UMAP``'s ``_knn_indices``/``_knn_dists``, :func:`nearest_neighbors` or
    sklearn's ``NearestNeighbors().fit(X).kneighbors(X)`` give. Among several points at
    distance 0 (duplicates), the point itself may come later; it is moved first. The
    distance of a point to itself is 0 whatever the caller's arithmetic says: up to
    ``SELF_DISTANCE_RTOL`` times the row's farthest kept neighbour distance it is
    rounding (sklearn reports ~1e-7 for some rows) and read as 0, above it an error.

    Parameters
    ----------
    precomputed_knn : tuple (indices, distances) or (indices, distances, search_index)
        ``indices``: integer array of shape (n_samples, width), values in
        ``[0, n_samples)``, no repeats within a row; ``distances``: real array of the same
        shape, finite, non-negative, non-decreasing along each row. ``width`` must be at
        least ``n_neighbors``. A third element (umap-learn's search index) is ignored.
    n_samples : int
        Rows of the data the neighbours belong to.
    n_neighbors : int
        Columns kept, the point itself included.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
    distances : ndarray of shape (n_samples, n_neighbors), float32

    Raises
    ------
    TypeError, ValueError
        Naming ``precomputed_knn`` and saying what was wrong (and where).
    """
    name = "precomputed_knn"
    n_neighbors = check_n_neighbors(n_neighbors, n_samples)
    if not isinstance(precomputed_knn, (tuple, list)) or len(precomputed_knn) not in (2, 3):
        raise TypeError(
            f"{name}: expected a tuple (indices, distances), or umap-learn's (indices, "
            f"distances, search_index), got {type(precomputed_knn).__name__}"
        )
    indices, distances = (np.asarray(a) for a in precomputed_knn[:2])
    if indices.ndim != 2 or indices.shape != distances.shape:
        raise ValueError(
            f"{name}: indices and distances must be 2-D arrays of the same shape, "
            f"got {indices.shape} and {distances.shape}"
        )
    if indices.shape[0] != n_samples:
        raise ValueError(
            f"{name}: has neighbours for {indices.shape[0]} points, the data has {n_samples}"
        )
    if indices.shape[1] < n_neighbors:
        raise ValueError(
            f"{name}: holds {indices.shape[1]} neighbours per point (the point itself "
            f"included), fewer than n_neighbors={n_neighbors}; compute at least "
            f"{n_neighbors} or lower n_neighbors"
        )
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{name}: indices must have an integer dtype, got {indices.dtype}")
    if distances.dtype == np.bool_ or distances.dtype.kind not in "fiu":
        raise TypeError(f"{name}: distances must be real numbers, got dtype {distances.dtype}")
    outside = (indices < 0) | (indices >= n_samples)
    if outside.any():
        i = _first_row(outside)
        j = int(np.argmax(outside[i]))
        raise ValueError(
            f"{name}: indices[{i}, {j}] = {indices[i, j]} is outside [0, {n_samples}) "
            "(umap-learn marks neighbours it did not find with -1; search more neighbours)"
        )
    bad = ~np.isfinite(distances) | (distances < 0)
    if bad.any():
        i = _first_row(bad)
        j = int(np.argmax(bad[i]))
        raise ValueError(
            f"{name}: distances[{i}, {j}] = {distances[i, j]}; distances must be finite "
            "and non-negative"
        )
    unsorted = np.diff(distances, axis=1) < 0
    if unsorted.any():
        raise ValueError(f"{name}: row {_first_row(unsorted)} is not sorted by increasing distance")
    repeated = np.diff(np.sort(indices, axis=1), axis=1) == 0
    if repeated.any():
        i = _first_row(repeated)
        j = np.sort(indices[i])[int(np.argmax(repeated[i]))]
        raise ValueError(f"{name}: row {i} lists neighbour {j} more than once")
    is_self = indices == np.arange(n_samples)[:, None]
    self_col = np.where(is_self.any(axis=1), np.argmax(is_self, axis=1), -1)
    rows = np.arange(n_samples)
    self_dist = np.where(self_col >= 0, distances[rows, self_col], np.inf)
    # The point itself is at distance 0, whatever rounding the caller's arithmetic left:
    # sklearn's kneighbors reports up to ~1e-7 on standardised data, and _rho would take
    # that for the nearest neighbour's distance.
    wrong = ~_is_rounded_zero(self_dist, distances[:, n_neighbors - 1])
    if wrong.any():
        i = int(np.argmax(wrong))
        if self_col[i] == 0:
            raise ValueError(
                f"{name}: distances[{i}, 0] = {distances[i, 0]} is the distance of point {i} "
                f"to itself, which must be 0 (values up to {SELF_DISTANCE_RTOL:g} times the "
                "row's farthest kept neighbour distance are read as rounding, and as 0)"
            )
        raise ValueError(
            f"{name}: row {i} starts with point {indices[i, 0]} at distance "
            f"{distances[i, 0]}, not with point {i} itself; each row must list the point "
            "itself first (distance 0), as umap-learn's nearest_neighbors and sklearn's "
            "NearestNeighbors().fit(X).kneighbors(X) do"
        )
    distances = distances.astype(np.float32)
    indices = indices.copy()
    later = np.flatnonzero(self_col > 0)
    if later.size:
        # Duplicates of the point (distance ~0) precede it: move it first, keep their order.
        width = indices.shape[1]
        order = np.argsort(np.where(is_self[later], -1, np.arange(width)), axis=1, kind="stable")
        indices[later] = np.take_along_axis(indices[later], order, axis=1)
        distances[later] = np.take_along_axis(distances[later], order, axis=1)
    distances[:, 0] = 0.0
    return (
        np.ascontiguousarray(indices[:, :n_neighbors], dtype=np.int64),
        np.ascontiguousarray(distances[:, :n_neighbors], dtype=np.float32),
    )


# ---------------------------------------------------------------- nearest neighbours
def _prepare_for_metric(X: torch.Tensor, metric: str) -> torch.Tensor:
    """Map rows so that the metric becomes euclidean (cosine, correlation) or stays.

    ``metric`` is a canonical name of ``METRICS``.
    """
    if metric == "correlation":
        X = X - X.mean(dim=1, keepdim=True)
    if metric in ("cosine", "correlation"):
        norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
        X = X / torch.where(norms > 0, norms, torch.ones_like(norms))
    return X


def _unit_scale(X: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``X`` times a power of two that brings its largest magnitude into [0.5, 1), and the power.

    Squared norms and ``|a|^2 + |b|^2 - 2ab`` then neither overflow (values near 1e20 in
    float32 did, and ended in an IndexError) nor underflow (1e-30 did, and made every
    distance 0). A power of two changes no bit of the distances but the exponent.
    """
    largest = float(X.abs().max()) if X.numel() else 0.0
    if not math.isfinite(largest) or largest == 0.0:
        return X, 0
    _, exponent = math.frexp(largest)
    # Two steps: 2**-exponent alone underflows float32 for exponent > 126.
    half = exponent // 2
    return X * 2.0**-half * 2.0 ** (half - exponent), exponent


def _unscale(distances: np.ndarray, exponent: int, metric: str) -> np.ndarray:
    """Distances of data scaled by ``_unit_scale`` back in the data's units.

    Cosine and correlation do not depend on the scale; squared euclidean goes with its
    square. Raises a ValueError naming ``X`` when they do not fit in float32.
    """
    if metric in ("cosine", "correlation") or not exponent:
        return distances
    power = 2 * exponent if metric == "sqeuclidean" else exponent
    with np.errstate(over="ignore", under="ignore"):
        scaled = np.ldexp(distances, power).astype(np.float32)
    if not np.isfinite(scaled).all() or ((scaled == 0) & (distances > 0)).any():
        raise ValueError(
            f"X: {metric} distances beyond the float32 range (+/-3.4e38, down to 1.4e-45); "
            "rescale X"
        )
    return scaled


def _pair_distances(
    Xa: torch.Tensor, Xb: torch.Tensor, metric: str, p: float = 2.0
) -> torch.Tensor:
    """Distances between matching rows of Xa and Xb (shape (m, k, d) and (m, k, d)).

    ``metric`` is a canonical name of ``METRICS``, ``p`` minkowski's exponent.
    """
    diff = Xa - Xb
    if metric == "manhattan":
        return diff.abs().sum(-1)
    if metric == "chebyshev":
        return diff.abs().amax(-1)
    if metric == "minkowski":
        return torch.linalg.vector_norm(diff, ord=p, dim=-1)
    if metric == "sqeuclidean":
        return diff.square().sum(-1)
    dist = torch.linalg.vector_norm(diff, dim=-1)
    if metric in ("cosine", "correlation"):
        # For unit vectors |a - b|^2 = 2 (1 - cos), and umap-learn reports 1 - cos.
        dist = 0.5 * dist.square()
    return dist


def _scores(
    block: torch.Tensor, Xt: torch.Tensor, sq_norms: torch.Tensor, metric: str, p: float
) -> torch.Tensor:
    """Scores of shape (len(block), n_samples) that rank neighbours as ``metric`` does."""
    if metric == "manhattan":
        return torch.cdist(block, Xt, p=1.0)
    if metric == "chebyshev":
        return torch.cdist(block, Xt, p=math.inf)
    if metric == "minkowski":
        return torch.cdist(block, Xt, p=p)
    # Squared euclidean up to a per-row constant: ranking is all that matters.
    return torch.addmm(sq_norms[None, :], block, Xt.T, alpha=-2.0)


def _block_rows(n_samples: int, device: torch.device) -> int:
    """Query rows per block so that one block's (rows, n_samples) score matrix fits the budget.

    The budget is ``EXACT_KNN_BLOCK_BYTES`` on the CPU; on a GPU, a quarter of the free
    memory, at most ``EXACT_KNN_GPU_BLOCK_BYTES``. Never fewer rows than 64.
    """
    budget = EXACT_KNN_BLOCK_BYTES
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = min(free // 4, EXACT_KNN_GPU_BLOCK_BYTES)
    # 4 bytes per score; topk's output and the gathered rows are small beside it.
    return int(max(64, min(n_samples, budget // (4 * max(n_samples, 1)))))


def _self_first(
    indices: torch.Tensor, dist: torch.Tensor, start: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows sorted by distance, each point itself first at distance 0 even among duplicates."""
    self_idx = torch.arange(start, start + indices.shape[0], device=indices.device)
    is_self = indices == self_idx[:, None]
    dist = torch.where(is_self, torch.zeros_like(dist), dist)
    # Self sorts before any other zero-distance point; among self duplicates the first wins.
    key = torch.where(is_self, torch.full_like(dist, -1.0), dist)
    order = torch.argsort(key, dim=1, stable=True)
    return torch.gather(indices, 1, order), torch.gather(dist, 1, order)


def _with_self(indices: torch.Tensor, start: int) -> torch.Tensor:
    """Candidates with each query itself among them.

    An approximate search may miss the query itself or return fewer than k points:
    self replaces the last candidate, and a missing one (``-1``) becomes a self loop,
    which the graph drops.
    """
    self_idx = torch.arange(start, start + indices.shape[0], device=indices.device)
    indices = torch.where(indices < 0, self_idx[:, None], indices)
    missing_self = ~(indices == self_idx[:, None]).any(dim=1)
    indices[missing_self, -1] = self_idx[missing_self]
    return indices


def _refine(
    Xt: torch.Tensor, indices: torch.Tensor, start: int, metric: str, p: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact distances to candidate neighbours, sorted, with each point itself first.

    Parameters
    ----------
    Xt : Tensor of shape (n_samples, n_features)
        All points, already mapped by :func:`_prepare_for_metric`.
    indices : LongTensor of shape (m, n_neighbors)
        Candidates of the queries ``start .. start + m``; ``-1`` marks a missing one.
    start : int
        Row of ``Xt`` of the first query.
    metric : str
        A canonical name of ``METRICS``.
    p : float
        Minkowski's exponent.

    Returns
    -------
    indices : LongTensor of shape (m, n_neighbors)
    distances : Tensor of shape (m, n_neighbors)
        Distances recomputed from coordinate differences, so that cancellation in
        ``|a|^2 + |b|^2 - 2ab`` (or an approximate index's own arithmetic) does not leak
        into the graph weights. Sorted increasingly; self first even among duplicates.
    """
    m = indices.shape[0]
    indices = _with_self(indices, start)
    dist = _pair_distances(Xt[start : start + m, None, :], Xt[indices], metric, p)
    return _self_first(indices, dist, start)


def _refine_all(
    X: np.ndarray, indices: np.ndarray, metric: str, p: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """``_refine`` over all rows of an approximate kNN graph, block by block on the CPU."""
    Xt, exponent = _unit_scale(torch.as_tensor(X))
    Xt = _prepare_for_metric(Xt, metric)
    idx = torch.as_tensor(np.ascontiguousarray(indices, dtype=np.int64))
    out_idx = np.empty(idx.shape, dtype=np.int64)
    out_dist = np.empty(idx.shape, dtype=np.float32)
    # Gathered neighbours take rows * k * d values; keep them near EXACT_KNN_BLOCK_BYTES.
    rows = max(256, EXACT_KNN_BLOCK_BYTES // (4 * idx.shape[1] * max(Xt.shape[1], 1)))
    with torch.inference_mode():
        for start in range(0, idx.shape[0], rows):
            i, d = _refine(Xt, idx[start : start + rows], start, metric, p)
            out_idx[start : start + rows] = i.numpy()
            out_dist[start : start + rows] = d.numpy()
    return out_idx, _unscale(out_dist, exponent, metric)


def exact_knn(
    X: np.ndarray | torch.Tensor,
    n_neighbors: int,
    metric: str = "euclidean",
    block_size: int | None = None,
    device: torch.device | str | None = None,
    *,
    metric_kwds: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by blocked matrix products.

    Each block of queries is scored against all points with one matrix product
    (or ``torch.cdist`` for manhattan, chebyshev and minkowski), the ``n_neighbors``
    best are kept with ``topk``, and their distances are recomputed directly from the
    coordinate differences (``_refine``). Memory is bounded by
    ``block_size * n_samples`` scores, and the default block size keeps that within
    ``EXACT_KNN_BLOCK_BYTES`` (on a GPU, a quarter of the free memory up to
    ``EXACT_KNN_GPU_BLOCK_BYTES``). Distances are those of
    ``sklearn.metrics.pairwise_distances`` with the same metric (tested). The data is
    searched scaled by a power of two (``_unit_scale``), so that any finite float32
    magnitude, 1e-30 to 3e38, gives the same neighbours; distances that do not fit in
    float32 in the data's units (squared euclidean of 1e20 data) raise a ValueError.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Dense points, a numpy array or a torch tensor; each one is a query and a
        candidate neighbour of every other.
    n_neighbors : int
        Neighbours per point, the point itself included (umap-learn's convention).
    metric : str
        One of ``METRICS`` or its ``METRIC_ALIASES``: euclidean (l2), sqeuclidean,
        manhattan (l1, taxicab), chebyshev (linf, linfinity, linfty), minkowski, cosine,
        correlation.
    block_size : int, optional
        Queries per block; by default, as many as the memory budget allows.
    device : torch device, optional
        Where to compute; defaults to the device of ``X`` (CPU for numpy input).
    metric_kwds : dict, optional
        ``{'p': p}`` for minkowski (default 2); no other keywords.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
        Sorted by increasing distance.
    distances : ndarray of shape (n_samples, n_neighbors), float32
        The distance to each neighbour in ``indices``, as
        ``sklearn.metrics.pairwise_distances`` with the same metric gives it.
    """
    kwds = check_metric(metric, metric_kwds, "exact")
    metric, p = _canonical(metric), float(kwds.get("p", 2.0))
    Xt = torch.as_tensor(X)
    if device is not None:
        Xt = Xt.to(device)
    n = Xt.shape[0]
    if block_size is None:
        block_size = _block_rows(n, Xt.device)
    indices = np.empty((n, n_neighbors), dtype=np.int64)
    distances = np.empty((n, n_neighbors), dtype=np.float32)
    with torch.inference_mode():
        Xt, exponent = _unit_scale(Xt)
        Xt = _prepare_for_metric(Xt, metric)
        sq_norms = Xt.square().sum(1)
        for start in range(0, n, block_size):
            block = Xt[start : start + block_size]
            score = _scores(block, Xt, sq_norms, metric, p)
            rows = torch.arange(block.shape[0], device=Xt.device)
            score[rows, rows + start] = -torch.inf
            idx = torch.topk(score, n_neighbors, dim=1, largest=False, sorted=True).indices
            del score
            idx, dist = _refine(Xt, idx, start, metric, p)
            stop = start + block.shape[0]
            indices[start:stop] = idx.cpu().numpy()
            distances[start:stop] = dist.float().cpu().numpy()
    return indices, _unscale(distances, exponent, metric)


def approximate_knn(
    X: np.ndarray,
    n_neighbors: int,
    metric: str,
    random_state: int | None,
    *,
    metric_kwds: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k nearest neighbours with pynndescent (umap-learn's settings).

    Any metric of ``PYNNDESCENT_METRICS``, with ``metric_kwds`` passed to pynndescent as
    they are. For the metrics exact search serves, distances are then recomputed
    exactly (``_refine``); for the others they are pynndescent's.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
        Self first, then by increasing distance.
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    from pynndescent import NNDescent

    kwds = check_metric(metric, metric_kwds, "pynndescent")
    n = X.shape[0]
    n_trees = min(64, 5 + int(round((n**0.5) / 20.0)))
    n_iters = max(5, int(round(np.log2(n))))
    index = NNDescent(
        X,
        n_neighbors=n_neighbors,
        metric=metric,
        metric_kwds=kwds or None,
        random_state=random_state,
        n_trees=n_trees,
        n_iters=n_iters,
        max_candidates=60,
        low_memory=True,
        compressed=True,
        verbose=False,
    )
    indices, dists = index.neighbor_graph
    del index
    name = _canonical(metric)
    if name in METRICS:
        return _refine_all(X, indices, name, float(kwds.get("p", 2.0)))
    idx, dist = _self_first(
        _with_self(torch.as_tensor(np.asarray(indices, dtype=np.int64)), 0),
        torch.as_tensor(np.asarray(dists, dtype=np.float32)),
        0,
    )
    return idx.numpy(), dist.numpy()


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "knn_method: 'faiss' needs the faiss package: pip install faiss-cpu (or faiss-gpu), "
            "or pip install 'glass_box_umap[faiss]'"
        ) from None
    return faiss


def faiss_knn(
    X: np.ndarray,
    n_neighbors: int,
    metric: str,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours with FAISS: exact on a GPU or for small data, HNSW otherwise.

    The metrics of ``FAISS_METRICS``: euclidean and sqeuclidean by L2 search, cosine and
    correlation by L2 search on normalised rows (:func:`_prepare_for_metric`); others
    raise a ValueError naming the ``knn_method`` values that serve them. On a GPU (a
    FAISS build with GPU support and a CUDA ``device``), a flat index gives exact
    neighbours. On the CPU, up to ``EXACT_KNN_MAX_SAMPLES`` rows use a flat index too;
    above, an HNSW graph (``FAISS_HNSW_M`` links per node) searched with
    ``max(FAISS_HNSW_EF_SEARCH, 2k)`` candidates, which found 99.7% of the exact
    neighbours on 20k x 50 clustered data. HNSW is built with several threads and is not
    bit-reproducible between runs.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
    distances : ndarray of shape (n_samples, n_neighbors), float32
        As for :func:`exact_knn`: sorted, self first, distances recomputed exactly.
    """
    check_metric(metric, None, "faiss")
    faiss = _import_faiss()
    metric = _canonical(metric)
    Xp = _prepare_for_metric(_unit_scale(torch.as_tensor(X, dtype=torch.float32))[0], metric)
    Xp = Xp.numpy()
    Xp = np.ascontiguousarray(Xp)
    n, d = Xp.shape
    on_gpu = (
        device is not None
        and torch.device(device).type == "cuda"
        and hasattr(faiss, "StandardGpuResources")
        and faiss.get_num_gpus() > 0
    )
    if on_gpu:
        resources = faiss.StandardGpuResources()
        index = faiss.GpuIndexFlatL2(resources, d)
    elif n <= EXACT_KNN_MAX_SAMPLES:
        index = faiss.IndexFlatL2(d)
    else:
        index = faiss.IndexHNSWFlat(d, FAISS_HNSW_M)
        index.hnsw.efConstruction = FAISS_HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = max(FAISS_HNSW_EF_SEARCH, 2 * n_neighbors)
    index.add(Xp)
    _, indices = index.search(Xp, n_neighbors)
    del index
    return _refine_all(X, indices, metric)


def knn_from_distances(
    D: np.ndarray | scipy.sparse.spmatrix, n_neighbors: int
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours read off a square distance matrix (``metric='precomputed'``).

    Dense: every entry is a distance (``inf``: not a neighbour). Sparse: stored entries
    are distances (an explicit 0 is a duplicate point), missing ones are not neighbours.
    All is checked before any neighbour is picked, except the diagonal, whose tolerance
    is relative to the picked neighbours' distances; errors name ``X``, the matrix's name
    when it is the data.

    Parameters
    ----------
    D : array or scipy sparse matrix of shape (n_samples, n_samples)
        Real, no NaN, non-negative, zero diagonal (sparse: stored diagonal entries 0; up
        to ``SELF_DISTANCE_RTOL`` times the row's farthest kept neighbour distance is
        rounding, read as 0).
        Each row needs at least ``n_neighbors - 1`` finite distances to other points.
    n_neighbors : int
        Neighbours per point, the point itself included.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
        Self first (distance 0, even among duplicates), then by increasing distance,
        ties by increasing index.
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    name = "X: with metric='precomputed',"
    if not scipy.sparse.issparse(D):
        D = np.asarray(D)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"{name} expected a square distance matrix, got shape {D.shape}")
    if D.dtype == np.bool_ or D.dtype.kind not in "fiu":
        raise TypeError(f"{name} expected real distances, got dtype {D.dtype}")
    n = D.shape[0]
    k = check_n_neighbors(n_neighbors, n)
    if scipy.sparse.issparse(D):
        return _knn_from_sparse_distances(D, k, name)
    # Row blocks of float64 copies and int64 partitions stay within the block budget.
    rows = max(1, EXACT_KNN_BLOCK_BYTES // (16 * n))
    for start in range(0, n, rows):
        block = D[start : start + rows]
        bad = np.isnan(block) | (block < 0)
        if bad.any():
            i = _first_row(bad)
            j = int(np.argmax(bad[i]))
            raise ValueError(
                f"{name} distances must be non-negative numbers, "
                f"X[{start + i}, {j}] = {block[i, j]}"
            )
        huge = np.isfinite(block) & (block > _FLOAT32_MAX)
        if huge.any():
            i = _first_row(huge)
            j = int(np.argmax(huge[i]))
            raise ValueError(f"{name} {_BEYOND_FLOAT32}, X[{start + i}, {j}] = {block[i, j]}")
        short = np.isfinite(block).sum(axis=1) < k
        if short.any():
            i = int(np.argmax(short))
            raise ValueError(
                f"{name} row {start + i} has {np.isfinite(block[i]).sum() - 1} finite distances "
                f"to other points; n_neighbors={k} needs {k - 1}"
            )
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, rows):
        block = np.array(D[start : start + rows], dtype=np.float64)
        r = np.arange(block.shape[0])
        block[r, r + start] = -1.0  # self first, before any duplicate at distance 0
        part = np.argpartition(block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(block, part, axis=1)
        order = np.lexsort((part, vals), axis=1)
        stop = start + block.shape[0]
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        distances[start:stop] = np.take_along_axis(vals, order, axis=1)
    _check_self_distances(np.diagonal(D), distances, name, "the diagonal")
    distances[:, 0] = 0.0
    return indices, distances


def _check_self_distances(
    diagonal: np.ndarray, distances: np.ndarray, name: str, what: str
) -> None:
    """Raise unless every diagonal entry is 0 up to rounding (:func:`_is_rounded_zero`).

    ``distances`` are the picked neighbours' (self first), so that the tolerance is
    relative to each row's farthest kept neighbour, as for ``precomputed_knn``.
    """
    wrong = ~_is_rounded_zero(diagonal, distances[:, -1])
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(
            f"{name} {what} must be 0 (distance of a point to itself; values up to "
            f"{SELF_DISTANCE_RTOL:g} times the row's farthest kept neighbour distance are "
            f"read as rounding, and as 0), X[{i}, {i}] = {diagonal[i]}"
        )


def _knn_from_sparse_distances(
    D: scipy.sparse.spmatrix, k: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn_from_distances` for a sparse matrix: one sort of the stored entries."""
    n = D.shape[0]
    coo = scipy.sparse.csr_matrix(D).tocoo()  # CSR sums duplicate entries
    row, col, data = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    bad = np.isnan(data) | (data < 0)
    if bad.any():
        e = int(np.argmax(bad))
        raise ValueError(
            f"{name} distances must be non-negative numbers, X[{row[e]}, {col[e]}] = {data[e]}"
        )
    huge = np.isfinite(data) & (data > _FLOAT32_MAX)
    if huge.any():
        e = int(np.argmax(huge))
        raise ValueError(f"{name} {_BEYOND_FLOAT32}, X[{row[e]}, {col[e]}] = {data[e]}")
    diagonal = row == col
    stored_diagonal = np.zeros(n, dtype=np.float64)
    stored_diagonal[row[diagonal]] = data[diagonal]
    keep = ~diagonal & np.isfinite(data)
    row, col, data = row[keep], col[keep], data[keep]
    counts = np.bincount(row, minlength=n)
    short = counts < k - 1
    if short.any():
        i = int(np.argmax(short))
        raise ValueError(
            f"{name} row {i} stores {counts[i]} finite distances to other points; "
            f"n_neighbors={k} needs {k - 1} (missing entries are not neighbours)"
        )
    order = np.lexsort((col, data, row))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = order[first[:, None] + np.arange(k - 1)]
    indices = np.column_stack([np.arange(n, dtype=np.int64), col[take]])
    distances = np.column_stack([np.zeros(n, dtype=np.float32), data[take].astype(np.float32)])
    _check_self_distances(stored_diagonal, distances, name, "stored diagonal entries")
    return indices, distances


def resolve_knn_method(
    knn_method: str,
    n_samples: int,
    metric: str = "euclidean",
    device: torch.device | str | None = None,
    *,
    metric_kwds: Mapping[str, Any] | None = None,
) -> str:
    """The search :func:`nearest_neighbors` runs: ``knn_method``, or its choice for ``'auto'``.

    Checks first that ``knn_method`` can search ``metric`` (:func:`check_metric`).
    ``'auto'`` picks exact blocked search for the metrics of ``METRICS`` (and
    ``'precomputed'``) on a GPU and, on the CPU, up to ``EXACT_KNN_MAX_SAMPLES`` rows;
    above that, and for every other metric, pynndescent. FAISS is used only when asked
    for: on the CPU pynndescent was as accurate and, at a million rows, faster than FAISS
    HNSW, whose edge is at 100k rows once numba's compilation is counted (the figures are
    on the documentation's "Scale and GPUs" page, ``docs/scale.rst``).
    """
    check_metric(metric, metric_kwds, knn_method)
    if knn_method != "auto":
        return knn_method
    name = _canonical(metric)
    if name == PRECOMPUTED:
        return "exact"
    on_gpu = device is not None and torch.device(device).type != "cpu"
    if name in METRICS and (on_gpu or n_samples <= EXACT_KNN_MAX_SAMPLES):
        return "exact"
    return "pynndescent"


def nearest_neighbors(
    X: np.ndarray | scipy.sparse.spmatrix,
    n_neighbors: int,
    metric: str = "euclidean",
    random_state: int | None = None,
    device: torch.device | str | None = None,
    knn_method: str = "auto",
    *,
    metric_kwds: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours by the method :func:`resolve_knn_method` picks.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32
        With ``metric='precomputed'``, a square distance matrix of shape
        (n_samples, n_samples), dense or scipy sparse (:func:`knn_from_distances`).
    n_neighbors : int
    metric : str
        Any name of ``ALL_METRICS``; see :func:`check_metric` for which ``knn_method``
        serves which.
    random_state : int, optional
        Seeds pynndescent.
    device : torch device, optional
        Where exact search runs (and FAISS, if it has GPU support).
    knn_method : {'auto', 'exact', 'pynndescent', 'faiss'}
    metric_kwds : dict, optional
        Keyword arguments of the metric, e.g. ``{'p': 3}`` for minkowski.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
        Self first, then by increasing distance.
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    method = resolve_knn_method(knn_method, X.shape[0], metric, device, metric_kwds=metric_kwds)
    if metric == PRECOMPUTED:
        return knn_from_distances(X, n_neighbors)
    if method == "exact":
        return exact_knn(X, n_neighbors, metric, device=device, metric_kwds=metric_kwds)
    if method == "faiss":
        return faiss_knn(X, n_neighbors, metric, device)
    return approximate_knn(X, n_neighbors, metric, random_state, metric_kwds=metric_kwds)
