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
KNN_METHODS = ("auto", "exact", "pynndescent", "faiss")

#: Above this many samples on the CPU, ``knn_method='auto'`` leaves the exact blocked
#: search for an approximate one. Exact search costs O(n^2 d): 2-8 s at 20k x 50 on 2 cores.
EXACT_KNN_MAX_SAMPLES = 20_000
#: Memory for one block of exact-search scores on the CPU (and for refining approximate
#: neighbours), in bytes.
EXACT_KNN_BLOCK_BYTES = 256 * 2**20
#: The same on a GPU, where a quarter of the free memory is used up to this much: larger
#: blocks mean fewer, fuller matrix products and top-k launches.
EXACT_KNN_GPU_BLOCK_BYTES = 4 * 2**30
#: FAISS HNSW settings for large data on the CPU (see :func:`faiss_knn`).
FAISS_HNSW_M = 16
FAISS_HNSW_EF_CONSTRUCTION = 64
FAISS_HNSW_EF_SEARCH = 48

_SMOOTH_K_TOLERANCE = 1e-5
_SMOOTH_K_CHUNK = 65_536
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


def _refine(
    Xt: torch.Tensor, indices: torch.Tensor, start: int, metric: str
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

    Returns
    -------
    indices : LongTensor of shape (m, n_neighbors)
    distances : Tensor of shape (m, n_neighbors)
        Distances recomputed from coordinate differences, so that cancellation in
        ``|a|^2 + |b|^2 - 2ab`` (or an approximate index's own arithmetic) does not leak
        into the graph weights. Sorted increasingly; self first even among duplicates.
    """
    m = indices.shape[0]
    self_idx = torch.arange(start, start + m, device=indices.device)
    # An approximate search may miss the query itself or return fewer than k points:
    # self replaces the last candidate, and a missing one becomes a (dropped) self loop.
    indices = torch.where(indices < 0, self_idx[:, None], indices)
    missing_self = ~(indices == self_idx[:, None]).any(dim=1)
    indices[missing_self, -1] = self_idx[missing_self]
    dist = _pair_distances(Xt[start : start + m, None, :], Xt[indices], metric)
    is_self = indices == self_idx[:, None]
    dist = torch.where(is_self, torch.zeros_like(dist), dist)
    # Self sorts before any other zero-distance point; among self duplicates the first wins.
    key = torch.where(is_self, torch.full_like(dist, -1.0), dist)
    order = torch.argsort(key, dim=1, stable=True)
    return torch.gather(indices, 1, order), torch.gather(dist, 1, order)


def _refine_all(X: np.ndarray, indices: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_refine` over all rows of an approximate kNN graph, block by block on the CPU."""
    Xt = _prepare_for_metric(torch.as_tensor(X), metric)
    idx = torch.as_tensor(np.ascontiguousarray(indices, dtype=np.int64))
    out_idx = np.empty(idx.shape, dtype=np.int64)
    out_dist = np.empty(idx.shape, dtype=np.float32)
    # Gathered neighbours take rows * k * d values; keep them near EXACT_KNN_BLOCK_BYTES.
    rows = max(256, EXACT_KNN_BLOCK_BYTES // (4 * idx.shape[1] * max(Xt.shape[1], 1)))
    with torch.inference_mode():
        for start in range(0, idx.shape[0], rows):
            i, d = _refine(Xt, idx[start : start + rows], start, metric)
            out_idx[start : start + rows] = i.numpy()
            out_dist[start : start + rows] = d.numpy()
    return out_idx, out_dist


def exact_knn(
    X: np.ndarray | torch.Tensor,
    n_neighbors: int,
    metric: str = "euclidean",
    block_size: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by blocked matrix products.

    Each block of queries is scored against all points with one matrix product
    (or ``torch.cdist`` for manhattan), the ``n_neighbors`` best are kept with
    ``topk``, and their distances are recomputed directly from the coordinate
    differences (:func:`_refine`). Memory is bounded by ``block_size * n_samples``
    scores, and the default block size keeps that within ``EXACT_KNN_BLOCK_BYTES``
    (on a GPU, a quarter of the free memory up to ``EXACT_KNN_GPU_BLOCK_BYTES``).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_neighbors : int
        Neighbours per point, the point itself included (umap-learn's convention).
    metric : {'euclidean', 'cosine', 'manhattan', 'correlation'}
    block_size : int, optional
        Queries per block; by default, as many as the memory budget allows.
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
    n = Xt.shape[0]
    if block_size is None:
        block_size = _block_rows(n, Xt.device)
    indices = np.empty((n, n_neighbors), dtype=np.int64)
    distances = np.empty((n, n_neighbors), dtype=np.float32)
    with torch.inference_mode():
        Xt = _prepare_for_metric(Xt, metric)
        sq_norms = Xt.square().sum(1)
        for start in range(0, n, block_size):
            block = Xt[start : start + block_size]
            if metric == "manhattan":
                score = torch.cdist(block, Xt, p=1.0)
            else:
                # Squared euclidean up to a per-row constant: ranking is all that matters.
                score = torch.addmm(sq_norms[None, :], block, Xt.T, alpha=-2.0)
            rows = torch.arange(block.shape[0], device=Xt.device)
            score[rows, rows + start] = -torch.inf
            idx = torch.topk(score, n_neighbors, dim=1, largest=False, sorted=True).indices
            del score
            idx, dist = _refine(Xt, idx, start, metric)
            stop = start + block.shape[0]
            indices[start:stop] = idx.cpu().numpy()
            distances[start:stop] = dist.float().cpu().numpy()
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
    indices, _ = index.neighbor_graph
    del index
    return _refine_all(X, indices, metric)


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

    Cosine and correlation become euclidean on normalised rows (:func:`_prepare_for_metric`);
    manhattan is not offered. On a GPU (a FAISS build with GPU support and a CUDA
    ``device``), a flat index gives exact neighbours. On the CPU, up to
    ``EXACT_KNN_MAX_SAMPLES`` rows use a flat index too; above, an HNSW graph
    (``FAISS_HNSW_M`` links per node) searched with ``max(FAISS_HNSW_EF_SEARCH, 2k)``
    candidates, which found 99.7% of the exact neighbours on 20k x 50 clustered data.
    HNSW is built with several threads and is not bit-reproducible between runs.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
    distances : ndarray of shape (n_samples, n_neighbors), float32
        As for :func:`exact_knn`: sorted, self first, distances recomputed exactly.
    """
    faiss = _import_faiss()
    if metric == "manhattan":
        raise ValueError(
            "knn_method: 'faiss' supports the euclidean, cosine and correlation metrics, "
            "not manhattan; use knn_method='exact' or 'pynndescent'"
        )
    Xp = _prepare_for_metric(torch.as_tensor(X, dtype=torch.float32), metric).numpy()
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


def resolve_knn_method(
    knn_method: str, n_samples: int, metric: str, device: torch.device | str | None
) -> str:
    """The search :func:`nearest_neighbors` runs: ``knn_method``, or its choice for ``'auto'``.

    ``'auto'`` picks exact blocked search on a GPU and, on the CPU, up to
    ``EXACT_KNN_MAX_SAMPLES`` rows; above that, pynndescent. FAISS is used only when
    asked for: on 2 CPU cores, 1M x 50 clustered rows took 233 s with pynndescent (its
    ~60 s of numba compilation included; recall 1.000) against 303 s with FAISS HNSW
    (recall 0.998), and at 100k x 50, 58 s (4 s once compiled) against 9-11 s.
    """
    if knn_method not in KNN_METHODS:
        raise ValueError(f"knn_method: expected one of {list(KNN_METHODS)}, got {knn_method!r}")
    if knn_method != "auto":
        return knn_method
    on_gpu = device is not None and torch.device(device).type != "cpu"
    if on_gpu or n_samples <= EXACT_KNN_MAX_SAMPLES:
        return "exact"
    return "pynndescent"


def nearest_neighbors(
    X: np.ndarray,
    n_neighbors: int,
    metric: str = "euclidean",
    random_state: int | None = None,
    device: torch.device | str | None = None,
    knn_method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours by the method :func:`resolve_knn_method` picks.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32
    n_neighbors : int
    metric : {'euclidean', 'cosine', 'manhattan', 'correlation'}
    random_state : int, optional
        Seeds pynndescent.
    device : torch device, optional
        Where exact search runs (and FAISS, if it has GPU support).
    knn_method : {'auto', 'exact', 'pynndescent', 'faiss'}

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
        Self first, then by increasing distance.
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    method = resolve_knn_method(knn_method, X.shape[0], metric, device)
    if method == "exact":
        return exact_knn(X, n_neighbors, metric, device=device)
    if method == "faiss":
        return faiss_knn(X, n_neighbors, metric, device)
    return approximate_knn(X, n_neighbors, metric, random_state)


def smooth_knn_dist(
    distances: np.ndarray, k: float, n_iter: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Per-point kernel width ``sigma`` and offset ``rho`` (local connectivity 1).

    The same bisection as umap-learn's ``smooth_knn_dist``, run for all points at once:
    ``sum_j exp(-(d_ij - rho_i) / sigma_i) = log2(k)`` over the neighbours after the
    first column, with ``rho_i`` the distance to the nearest non-identical neighbour.
    Rows are processed ``_SMOOTH_K_CHUNK`` at a time, so that the float64 temporaries
    stay a few tens of MB whatever the number of points.

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
    positive = distances > 0.0
    has_positive = positive.any(axis=1)
    first_positive = np.argmax(positive, axis=1)
    rho = np.where(has_positive, distances[np.arange(n), first_positive], 0.0).astype(np.float32)
    del positive

    sigma = np.empty(n, dtype=np.float32)
    for start in range(0, n, _SMOOTH_K_CHUNK):
        rows = slice(start, start + _SMOOTH_K_CHUNK)
        d = distances[rows, 1:].astype(np.float64) - rho[rows, None].astype(np.float64)
        sigma[rows] = _bisect_sigma(d, np.log2(k), n_iter)

    floor = np.where(
        rho > 0.0,
        _MIN_K_DIST_SCALE * distances.mean(axis=1),
        _MIN_K_DIST_SCALE * distances.mean(),
    ).astype(np.float32)
    sigma = np.maximum(sigma, floor)
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

    # 32-bit indices halve the memory of the sparse steps below whenever they can.
    index_dtype = np.int32 if n_vertices < 2**31 else np.int64
    rows = np.repeat(np.arange(n, dtype=index_dtype), k)
    cols = knn_indices.ravel().astype(index_dtype, copy=False)
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
    knn_method: str = "auto",
) -> EdgeList:
    """Nearest neighbours then fuzzy simplicial set, as a directed edge list.

    See :func:`nearest_neighbors` for the parameters.
    """
    indices, distances = nearest_neighbors(X, n_neighbors, metric, random_state, device, knn_method)
    return EdgeList.from_sparse(fuzzy_simplicial_set(indices, distances))
