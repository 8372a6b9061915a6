"""UMAP's fuzzy simplicial set on a kNN graph, as a weighted edge list.

The graph is the one umap-learn builds (``umap.umap_.fuzzy_simplicial_set`` is the
reference), with umap-learn's knobs and defaults: per-point smooth kNN distances with
``local_connectivity`` (1), membership strengths ``exp(-(d - rho) / sigma)``, neighbours
at ``disconnection_distance`` or beyond removed first, and the fuzzy union
``A + A.T - A * A.T`` mixed with the intersection ``A * A.T`` by ``set_op_mix_ratio`` (1:
union only). Here it is vectorised over points with numpy so that a 200-point data set
does not pay seconds of numba compilation; the result matches umap-learn to float32
precision. The neighbours come from :mod:`glass_box_umap.nearest_neighbors`;
:func:`build_graph` runs both steps, and :func:`check_graph` checks a fuzzy graph built
elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import torch

from ._validation import check_float
from .nearest_neighbors import (
    check_metric,
    check_n_neighbors,
    check_precomputed_knn,
    nearest_neighbors,
)

#: umap-learn's default ``disconnection_distance`` for bounded metrics (its
#: ``DISCONNECTION_DISTANCES``): pairs at the largest possible distance are not neighbours.
#: Infinity for every other metric.
DISCONNECTION_DISTANCES = {
    "correlation": 2.0,
    "cosine": 2.0,
    "hellinger": 1.0,
    "jaccard": 1.0,
    "bit_jaccard": 1.0,
    "dice": 1.0,
}

_SMOOTH_K_TOLERANCE = 1e-5
_SMOOTH_K_CHUNK = 65_536
_MIN_K_DIST_SCALE = 1e-3
#: Largest finite kNN distances :func:`smooth_knn_dist` bisects as they are; outside,
#: scaled by a power of two first.
_BISECTION_RANGE = (2.0**-20, 2.0**20)


@dataclass(frozen=True)
class EdgeList:
    """Symmetric weighted graph as parallel arrays of directed edges.

    Attributes
    ----------
    head, tail : ndarray of shape (n_edges,), int64
        Both directions of every undirected edge are present.
    weight : ndarray of shape (n_edges,), float32
        Fuzzy membership strength in (0, 1].
    n_vertices : int
    """

    head: np.ndarray
    tail: np.ndarray
    weight: np.ndarray
    n_vertices: int

    @classmethod
    def from_sparse(cls, graph: scipy.sparse.spmatrix) -> EdgeList:
        coo = graph.tocoo()
        return cls(
            head=coo.row.astype(np.int64),
            tail=coo.col.astype(np.int64),
            weight=coo.data.astype(np.float32),
            n_vertices=graph.shape[0],
        )


# ---------------------------------------------------------------- checks
def check_fuzzy_set_params(
    local_connectivity: Any = 1.0,
    set_op_mix_ratio: Any = 1.0,
    disconnection_distance: Any = None,
) -> tuple[float, float, float | None]:
    """Validated ``local_connectivity``, ``set_op_mix_ratio``, ``disconnection_distance``.

    Returns
    -------
    local_connectivity : float
        Finite, >= 0 (umap-learn's default 1; non-integer values interpolate).
    set_op_mix_ratio : float
        In [0, 1]: 1 is the fuzzy union, 0 the fuzzy intersection.
    disconnection_distance : float or None
        None (the metric's default, :func:`default_disconnection_distance`) or > 0;
        infinity removes nothing.
    """
    local_connectivity = check_float("local_connectivity", local_connectivity, 0.0)
    set_op_mix_ratio = check_float("set_op_mix_ratio", set_op_mix_ratio, 0.0, 1.0)
    if disconnection_distance is not None:
        disconnection_distance = check_float(
            "disconnection_distance",
            disconnection_distance,
            0.0,
            low_inclusive=False,
            allow_inf=True,
        )
    return local_connectivity, set_op_mix_ratio, disconnection_distance


def default_disconnection_distance(metric: str) -> float:
    """umap-learn's default ``disconnection_distance`` for ``metric`` (infinity: none)."""
    return DISCONNECTION_DISTANCES.get(metric, math.inf)


# ---------------------------------------------------------------- fuzzy simplicial set
def _rho(d: np.ndarray, local_connectivity: float) -> np.ndarray:
    """umap-learn's ``rho``: the ``local_connectivity``-th positive finite distance of a row.

    With ``nz`` a row's positive finite distances in order and ``local_connectivity =
    i + f`` (``i`` whole, ``f`` the fraction): ``nz[i-1] + f (nz[i] - nz[i-1])`` (``f``
    only above the bisection tolerance), ``f nz[0]`` when ``i = 0``; ``max(nz)`` when a
    row has fewer than ``local_connectivity`` of them, 0 when it has none. The float32 /
    float64 steps are umap-learn's, so that ``rho`` is bit-identical.

    Parameters
    ----------
    d : ndarray of shape (m, n_neighbors), float32

    Returns
    -------
    rho : ndarray of shape (m,), float32
    """
    m = d.shape[0]
    nz = (d > 0.0) & np.isfinite(d)
    running = np.cumsum(nz, axis=1, dtype=np.int32)
    count = running[:, -1]
    rows = np.arange(m)

    def nth(j: int) -> np.ndarray:
        """The ``j``-th (from 0) positive finite distance of rows that have one."""
        return d[rows, np.argmax(running > j, axis=1)]

    index = int(np.floor(local_connectivity))
    fraction = local_connectivity - index
    if index > 0:
        rho = nth(index - 1)
        if fraction > _SMOOTH_K_TOLERANCE:
            step = (nth(index) - rho).astype(np.float64)
            rho = (rho.astype(np.float64) + fraction * step).astype(np.float32)
    else:
        rho = (fraction * nth(0).astype(np.float64)).astype(np.float32)
    rho = np.where(count >= local_connectivity, rho, np.float32(0.0))
    fewer = (count < local_connectivity) & (count > 0)
    if fewer.any():
        rho[fewer] = np.where(nz[fewer], d[fewer], -np.inf).max(axis=1)
    return rho


def smooth_knn_dist(
    distances: np.ndarray,
    k: float,
    n_iter: int = 64,
    *,
    local_connectivity: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-point kernel width ``sigma`` and offset ``rho``, as umap-learn computes them.

    The same bisection as umap-learn's ``smooth_knn_dist``, run for all points at once:
    ``sum_j exp(-(d_ij - rho_i) / sigma_i) = log2(k)`` over the neighbours after the
    first column (terms with ``d_ij <= rho_i`` count 1), with ``rho_i`` from
    ``local_connectivity`` (:func:`_rho`; 1: the distance to the nearest non-identical
    neighbour), and ``sigma_i`` at least ``1e-3`` times the row's mean distance (the
    mean of all rows for points with ``rho_i = 0``). Rows are processed
    ``_SMOOTH_K_CHUNK`` at a time, so that the float64 temporaries stay a few tens of MB
    whatever the number of points.

    Infinite distances are removed neighbours (``disconnection_distance``): they add
    nothing to the sum and count neither in ``rho`` nor in the means. umap-learn up to
    0.5.12 lets them into the means, which makes ``sigma`` infinite, and so every kept
    edge of such a point weigh 1 (lmcinnes/umap#1286); rows without one are identical.

    Parameters
    ----------
    distances : array of shape (n_samples, n_neighbors)
        Sorted distances, self in column 0; ``inf`` for removed neighbours.
    k : float
        The neighbourhood size the kernel is normalised to.
    n_iter : int
        Bisection steps at most.
    local_connectivity : float
        Neighbours assumed connected at full strength (umap-learn's, default 1; >= 0,
        fractions interpolate).

    Returns
    -------
    sigmas, rhos : ndarrays of shape (n_samples,), float32
    """
    local_connectivity = check_float("local_connectivity", local_connectivity, 0.0)
    distances = np.asarray(distances, dtype=np.float32)
    n = distances.shape[0]
    finite = np.isfinite(distances)
    all_finite = bool(finite.all())
    # The bisection starts at sigma = 1 and has n_iter steps: distances near 1e20 or
    # 1e-30 (a precomputed matrix, say) leave it far from converged. Outside
    # _BISECTION_RANGE they are solved scaled by a power of two, which the kernel does
    # not see; inside it, nothing changes and umap-learn's bits are kept.
    largest = float(distances[finite].max()) if finite.any() else 0.0
    exponent = 0
    if largest > 0 and not _BISECTION_RANGE[0] <= largest <= _BISECTION_RANGE[1]:
        exponent = math.frexp(largest)[1]
        with np.errstate(under="ignore"):
            distances = np.ldexp(distances, -exponent).astype(np.float32)

    rho = np.empty(n, dtype=np.float32)
    sigma = np.empty(n, dtype=np.float32)
    for start in range(0, n, _SMOOTH_K_CHUNK):
        rows = slice(start, start + _SMOOTH_K_CHUNK)
        rho[rows] = _rho(distances[rows], local_connectivity)
        # float32 differences, as umap-learn's numba loop takes them, then float64 sums.
        d = (distances[rows, 1:] - rho[rows, None]).astype(np.float64)
        sigma[rows] = _bisect_sigma(d, np.log2(k), n_iter)

    row_mean = distances.mean(axis=1)
    if all_finite:
        mean = distances.mean()
    else:
        mean = distances[finite].mean()
        partial = ~finite.all(axis=1)
        row_mean[partial] = np.mean(distances[partial], axis=1, where=finite[partial])
    floor = np.where(rho > 0.0, _MIN_K_DIST_SCALE * row_mean, _MIN_K_DIST_SCALE * mean).astype(
        np.float32
    )
    sigma = np.maximum(sigma, floor)
    if exponent:
        sigma = np.ldexp(sigma, exponent).astype(np.float32)
        rho = np.ldexp(rho, exponent).astype(np.float32)
    return sigma, rho


def _bisect_sigma(d: np.ndarray, target: float, n_iter: int) -> np.ndarray:
    """Solve ``sum_j exp(-d_ij / sigma_i) = target`` (terms with ``d <= 0`` count 1) for sigma.

    Parameters
    ----------
    d : ndarray of shape (m, n_neighbors - 1), float64
        Distances minus ``rho``.

    Returns
    -------
    sigma : ndarray of shape (m,), float64
    """
    m = d.shape[0]
    lo = np.zeros(m)
    hi = np.full(m, np.inf)
    mid = np.ones(m)
    active = np.ones(m, dtype=bool)
    for _ in range(n_iter):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        dr = d[rows]
        # exp overflows where d <= 0, and those terms are replaced by 1 anyway.
        with np.errstate(over="ignore"):
            psum = np.where(dr > 0, np.exp(-dr / mid[rows, None]), 1.0).sum(axis=1)
        converged = np.abs(psum - target) < _SMOOTH_K_TOLERANCE
        too_big = psum > target
        move = rows[~converged]
        down = ~converged & too_big
        up = ~converged & ~too_big
        hi[rows[down]] = mid[rows[down]]
        mid[rows[down]] = (lo[rows[down]] + hi[rows[down]]) / 2.0
        lo[rows[up]] = mid[rows[up]]
        up_rows = rows[up]
        unbounded = np.isinf(hi[up_rows])
        mid[up_rows[unbounded]] *= 2.0
        bounded = up_rows[~unbounded]
        mid[bounded] = (lo[bounded] + hi[bounded]) / 2.0
        active[:] = False
        active[move] = True
    return mid


def fuzzy_simplicial_set(
    knn_indices: np.ndarray,
    knn_dists: np.ndarray,
    n_vertices: int | None = None,
    *,
    local_connectivity: float = 1.0,
    set_op_mix_ratio: float = 1.0,
    disconnection_distance: float | None = None,
) -> scipy.sparse.csr_matrix:
    """UMAP's symmetric fuzzy graph from a kNN graph.

    What umap-learn's ``UMAP.fit`` builds from the same neighbours: neighbours at
    ``disconnection_distance`` or beyond removed (index -1, distance inf), then
    ``umap.umap_.fuzzy_simplicial_set`` with ``local_connectivity`` and
    ``set_op_mix_ratio``. Equal to it within 1e-6 (tested), except that removed
    neighbours do not reach the kernel widths (see :func:`smooth_knn_dist`).

    Parameters
    ----------
    knn_indices : array of shape (n_samples, n_neighbors), int
        Self in column 0, as returned by :func:`nearest_neighbors`. ``-1`` marks a
        missing neighbour.
    knn_dists : array of shape (n_samples, n_neighbors)
    n_vertices : int, optional
        Rows and columns of the graph; ``n_samples`` by default.
    local_connectivity : float
        Neighbours each point is connected to at full strength (>= 0; umap-learn's
        default 1; fractions interpolate between neighbour distances).
    set_op_mix_ratio : float
        In [0, 1]: ``r (A + A.T - A * A.T) + (1 - r) A * A.T`` of the directed
        memberships ``A``; 1 (default) the fuzzy union, 0 the fuzzy intersection.
    disconnection_distance : float, optional
        Neighbours at this distance or beyond are removed (> 0). None removes none; the
        metric's default is :func:`default_disconnection_distance`, which
        :func:`build_graph` applies.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_vertices, n_vertices), float32
        Symmetric membership strengths.
    """
    local_connectivity, set_op_mix_ratio, disconnection_distance = check_fuzzy_set_params(
        local_connectivity, set_op_mix_ratio, disconnection_distance
    )
    knn_indices = np.asarray(knn_indices)
    knn_dists = np.asarray(knn_dists)
    if disconnection_distance is not None and disconnection_distance < math.inf:
        # Compared in float64: exactly "distance >= disconnection_distance".
        removed = knn_dists >= np.float64(disconnection_distance)
        if removed.any():
            knn_indices = np.where(removed, -1, knn_indices)
            knn_dists = np.where(removed, np.inf, knn_dists)
    knn_dists = knn_dists.astype(np.float32, copy=False)
    n, k = knn_indices.shape
    n_vertices = n if n_vertices is None else n_vertices
    sigmas, rhos = smooth_knn_dist(knn_dists, float(k), local_connectivity=local_connectivity)

    # 32-bit indices halve the memory of the sparse steps below whenever they can.
    index_dtype = np.int32 if n_vertices < 2**31 else np.int64
    rows = np.repeat(np.arange(n, dtype=index_dtype), k)
    cols = knn_indices.ravel().astype(index_dtype, copy=False)
    excess = knn_dists - rhos[:, None]
    # Entries with excess <= 0 (self, ties with rho) are overwritten with 1 just below;
    # removed neighbours (inf) get 0 and are dropped with the -1 entries.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vals = np.exp(-(excess / sigmas[:, None])).astype(np.float32)
    vals[(excess <= 0.0) | (sigmas[:, None] == 0.0)] = 1.0
    vals = vals.ravel()
    vals[cols == rows] = 0.0
    keep = (cols != -1) & (vals != 0.0)
    directed = scipy.sparse.csr_matrix(
        (vals[keep], (rows[keep], cols[keep])), shape=(n_vertices, n_vertices)
    )
    transpose = directed.T.tocsr()
    product = directed.multiply(transpose)
    graph = directed + transpose - product
    if set_op_mix_ratio != 1.0:
        graph = set_op_mix_ratio * graph + (1.0 - set_op_mix_ratio) * product
    graph = graph.tocsr()
    graph.eliminate_zeros()
    return graph.astype(np.float32)


def check_graph(graph: Any, n_samples: int, name: str = "graph") -> scipy.sparse.csr_matrix:
    """A fuzzy graph built elsewhere (scanpy's ``connectivities``, say), checked.

    Parameters
    ----------
    graph : array-like or scipy sparse matrix of shape (n_samples, n_samples)
        Symmetric membership strengths in [0, 1]; zeros (or missing entries) are not
        edges, and the diagonal is ignored.
    n_samples : int

    Returns
    -------
    scipy.sparse.csr_matrix, float64, without the diagonal and explicit zeros.

    Raises
    ------
    TypeError, ValueError
        Naming ``name``: not a square matrix of ``n_samples`` rows, values outside
        [0, 1] or not finite, not symmetric, or a sample without any edge.
    """
    if not scipy.sparse.issparse(graph):
        try:
            graph = scipy.sparse.csr_matrix(np.asarray(graph, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: expected a square matrix of weights ({err})") from None
    if graph.ndim != 2 or graph.shape != (n_samples, n_samples):
        raise ValueError(
            f"{name}: expected shape ({n_samples}, {n_samples}), one row per sample of X, "
            f"got {graph.shape}"
        )
    if graph.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real weights, got dtype {graph.dtype}")
    graph = scipy.sparse.csr_matrix(graph, dtype=np.float64)
    graph.setdiag(0)
    graph.eliminate_zeros()
    data = graph.data
    if data.size and (not np.isfinite(data).all() or data.min() < 0 or data.max() > 1):
        raise ValueError(f"{name}: weights must be finite and in [0, 1]")
    if abs(graph - graph.T).max() > 1e-6:
        raise ValueError(
            f"{name}: must be symmetric (a fuzzy union, as umap-learn and scanpy build)"
        )
    lonely = np.flatnonzero(np.diff(graph.indptr) == 0)
    if lonely.size:
        raise ValueError(
            f"{name}: {lonely.size} sample(s) have no edge (first: row {lonely[0]}); every "
            "sample needs a neighbour to be placed"
        )
    return graph


def build_graph(
    X: np.ndarray | scipy.sparse.spmatrix,
    n_neighbors: int,
    metric: str = "euclidean",
    random_state: int | None = None,
    device: torch.device | str | None = None,
    knn_method: str = "auto",
    *,
    metric_kwds: Mapping[str, Any] | None = None,
    local_connectivity: float = 1.0,
    set_op_mix_ratio: float = 1.0,
    disconnection_distance: float | None = None,
    precomputed_knn: tuple | None = None,
) -> EdgeList:
    """Nearest neighbours then fuzzy simplicial set, as a directed edge list.

    Every argument is checked before the search. See :func:`nearest_neighbors` for the
    search and :func:`fuzzy_simplicial_set` for ``local_connectivity`` and
    ``set_op_mix_ratio``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        With ``metric='precomputed'``, a square distance matrix, dense or scipy sparse.
        With ``precomputed_knn``, only its number of rows is used.
    disconnection_distance : float, optional
        Neighbours at this distance or beyond are removed; None takes umap-learn's
        default for the metric (:func:`default_disconnection_distance`: 2 for cosine
        and correlation, 1 for hellinger, jaccard, bit_jaccard, dice, otherwise none).
    precomputed_knn : tuple (indices, distances[, search_index]), optional
        Neighbours computed elsewhere, then no search runs (:func:`check_precomputed_knn`).
        The graph is bit-identical to the one from the search that gave them.

    Returns
    -------
    EdgeList
    """
    kwds = check_metric(metric, metric_kwds, knn_method)
    local_connectivity, set_op_mix_ratio, disconnection_distance = check_fuzzy_set_params(
        local_connectivity, set_op_mix_ratio, disconnection_distance
    )
    n_samples = X.shape[0]
    if precomputed_knn is not None:
        indices, distances = check_precomputed_knn(precomputed_knn, n_samples, n_neighbors)
    else:
        check_n_neighbors(n_neighbors, n_samples)
        indices, distances = nearest_neighbors(
            X, n_neighbors, metric, random_state, device, knn_method, metric_kwds=kwds
        )
    if disconnection_distance is None:
        disconnection_distance = default_disconnection_distance(metric)
    graph = fuzzy_simplicial_set(
        indices,
        distances,
        n_samples,
        local_connectivity=local_connectivity,
        set_op_mix_ratio=set_op_mix_ratio,
        disconnection_distance=disconnection_distance,
    )
    return EdgeList.from_sparse(graph)
