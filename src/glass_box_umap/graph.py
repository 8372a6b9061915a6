"""Nearest neighbours and UMAP's fuzzy simplicial set, as a weighted edge list.

The graph is the one umap-learn builds (``umap.umap_.fuzzy_simplicial_set`` is the
reference): per-point smooth kNN distances with local connectivity 1, membership
strengths ``exp(-(d - rho) / sigma)``, and the fuzzy union ``A + A.T - A * A.T``.
Here it is vectorised over points with numpy so that a 200-point data set does not
pay seconds of numba compilation; the result matches umap-learn to float32 precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch

METRICS = ("euclidean", "cosine", "manhattan", "correlation")

#: Above this many samples, neighbours come from pynndescent instead of the exact
#: blocked search. The exact search costs O(n^2 d); at 20k x 50 it takes ~2 s on 2 cores.
EXACT_KNN_MAX_SAMPLES = 20_000

_SMOOTH_K_TOLERANCE = 1e-5
_MIN_K_DIST_SCALE = 1e-3


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


def _prepare_for_metric(X: torch.Tensor, metric: str) -> torch.Tensor:
    """Map rows so that the metric becomes euclidean (cosine, correlation) or stays."""
    if metric == "correlation":
        X = X - X.mean(dim=1, keepdim=True)
    if metric in ("cosine", "correlation"):
        norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
        X = X / torch.where(norms > 0, norms, torch.ones_like(norms))
    return X


def _pair_distances(Xa: torch.Tensor, Xb: torch.Tensor, metric: str) -> torch.Tensor:
    """Distances between matching rows of Xa and Xb (shape (m, k, d) and (m, k, d))."""
    diff = Xa - Xb
    if metric == "manhattan":
        return diff.abs().sum(-1)
    dist = torch.linalg.vector_norm(diff, dim=-1)
    if metric in ("cosine", "correlation"):
        # For unit vectors |a - b|^2 = 2 (1 - cos), and umap-learn reports 1 - cos.
        dist = 0.5 * dist.square()
    return dist


def exact_knn(
    X: np.ndarray | torch.Tensor,
    n_neighbors: int,
    metric: str = "euclidean",
    block_size: int = 2048,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by blocked matrix products.

    Each block of queries is scored against all points with one matrix product
    (or ``torch.cdist`` for manhattan), the ``n_neighbors`` best are kept with
    ``topk``, and their distances are recomputed directly from the coordinate
    differences so that cancellation in ``|a|^2 + |b|^2 - 2ab`` does not leak
    into the graph weights. Memory is bounded by ``block_size * n_samples``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_neighbors : int
        Neighbours per point, the point itself included (umap-learn's convention).
    metric : {'euclidean', 'cosine', 'manhattan', 'correlation'}
    block_size : int
        Queries per block.
    device : torch device, optional
        Where to compute; defaults to the device of ``X`` (CPU for numpy input).

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
        Sorted by increasing distance.
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    Xt = torch.as_tensor(X)
    if device is not None:
        Xt = Xt.to(device)
    Xt = _prepare_for_metric(Xt, metric)
    n = Xt.shape[0]
    sq_norms = Xt.square().sum(1)
    all_idx, all_dist = [], []
    for start in range(0, n, block_size):
        block = Xt[start : start + block_size]
        if metric == "manhattan":
            score = torch.cdist(block, Xt, p=1.0)
        else:
            # Squared euclidean up to a per-row constant: ranking is all that matters here.
            score = sq_norms[None, :] - 2.0 * (block @ Xt.T)
        # The point itself must come first even among exact duplicates.
        rows = torch.arange(block.shape[0], device=Xt.device)
        score[rows, rows + start] = -torch.inf
        idx = torch.topk(score, n_neighbors, dim=1, largest=False, sorted=True).indices
        dist = _pair_distances(block[:, None, :], Xt[idx], metric)
        # Re-sort on the exact distances, keeping self in front.
        dist[:, 0] = 0.0
        order = torch.argsort(dist, dim=1, stable=True)
        all_idx.append(torch.gather(idx, 1, order))
        all_dist.append(torch.gather(dist, 1, order))
    indices = torch.cat(all_idx).cpu().numpy().astype(np.int64)
    distances = torch.cat(all_dist).cpu().numpy().astype(np.float32)
    return indices, distances


def approximate_knn(
    X: np.ndarray, n_neighbors: int, metric: str, random_state: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k nearest neighbours with pynndescent (umap-learn's settings)."""
    from pynndescent import NNDescent

    n = X.shape[0]
    n_trees = min(64, 5 + int(round((n**0.5) / 20.0)))
    n_iters = max(5, int(round(np.log2(n))))
    index = NNDescent(
        X,
        n_neighbors=n_neighbors,
        metric=metric,
        random_state=random_state,
        n_trees=n_trees,
        n_iters=n_iters,
        max_candidates=60,
        low_memory=True,
        compressed=True,
        verbose=False,
    )
    indices, distances = index.neighbor_graph
    return indices.astype(np.int64), distances.astype(np.float32)


def nearest_neighbors(
    X: np.ndarray,
    n_neighbors: int,
    metric: str = "euclidean",
    random_state: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours: exact up to ``EXACT_KNN_MAX_SAMPLES`` (or on a GPU), else pynndescent.

    Returns ``(indices, distances)``, each of shape (n_samples, n_neighbors), self first.
    """
    on_gpu = device is not None and torch.device(device).type != "cpu"
    if X.shape[0] <= EXACT_KNN_MAX_SAMPLES or on_gpu:
        return exact_knn(X, n_neighbors, metric, device=device)
    return approximate_knn(X, n_neighbors, metric, random_state)


def smooth_knn_dist(
    distances: np.ndarray, k: float, n_iter: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-point kernel width ``sigma`` and offset ``rho`` (local connectivity 1).

    The same bisection as umap-learn's ``smooth_knn_dist``, run for all points at once:
    ``sum_j exp(-(d_ij - rho_i) / sigma_i) = log2(k)`` over the neighbours after the
    first column, with ``rho_i`` the distance to the nearest non-identical neighbour.

    Parameters
    ----------
    distances : array of shape (n_samples, n_neighbors)
        Sorted distances, self in column 0.
    k : float
        The neighbourhood size the kernel is normalised to.

    Returns
    -------
    sigmas, rhos : ndarrays of shape (n_samples,), float32
    """
    distances = np.asarray(distances, dtype=np.float32)
    n = distances.shape[0]
    target = np.log2(k)
    positive = distances > 0.0
    has_positive = positive.any(axis=1)
    first_positive = np.argmax(positive, axis=1)
    rho = np.where(has_positive, distances[np.arange(n), first_positive], 0.0).astype(np.float32)

    d = distances[:, 1:].astype(np.float64) - rho[:, None].astype(np.float64)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    mid = np.ones(n)
    active = np.ones(n, dtype=bool)
    for _ in range(n_iter):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        dr = d[rows]
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

    sigma = mid.astype(np.float32)
    floor = np.where(
        rho > 0.0,
        _MIN_K_DIST_SCALE * distances.mean(axis=1),
        _MIN_K_DIST_SCALE * distances.mean(),
    ).astype(np.float32)
    sigma = np.maximum(sigma, floor)
    return sigma, rho


def fuzzy_simplicial_set(
    knn_indices: np.ndarray, knn_dists: np.ndarray, n_vertices: int | None = None
) -> scipy.sparse.csr_matrix:
    """UMAP's symmetric fuzzy graph from a kNN graph.

    Parameters
    ----------
    knn_indices : array of shape (n_samples, n_neighbors), int
        Self in column 0, as returned by :func:`nearest_neighbors`. ``-1`` marks a
        missing neighbour.
    knn_dists : array of shape (n_samples, n_neighbors)

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), float32
        Symmetric membership strengths (fuzzy union of the directed kNN sets).
    """
    knn_indices = np.asarray(knn_indices)
    knn_dists = np.asarray(knn_dists, dtype=np.float32)
    n, k = knn_indices.shape
    n_vertices = n if n_vertices is None else n_vertices
    sigmas, rhos = smooth_knn_dist(knn_dists, float(k))

    rows = np.repeat(np.arange(n), k)
    cols = knn_indices.ravel()
    excess = knn_dists - rhos[:, None]
    # Entries with excess <= 0 (self, ties with rho) are overwritten with 1 just below.
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
    graph = (directed + transpose - product).tocsr()
    graph.eliminate_zeros()
    return graph.astype(np.float32)


def build_graph(
    X: np.ndarray,
    n_neighbors: int,
    metric: str = "euclidean",
    random_state: int | None = None,
    device: torch.device | str | None = None,
) -> EdgeList:
    """Nearest neighbours then fuzzy simplicial set, as a directed edge list."""
    indices, distances = nearest_neighbors(X, n_neighbors, metric, random_state, device)
    return EdgeList.from_sparse(fuzzy_simplicial_set(indices, distances))
