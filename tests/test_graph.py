import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors

from glass_box_umap import nearest_neighbors as neighbours
from glass_box_umap.affinity import EdgeList, build_graph, fuzzy_simplicial_set, smooth_knn_dist
from glass_box_umap.nearest_neighbors import exact_knn, nearest_neighbors

from .conftest import require_module

umap_ = require_module("umap.umap_")


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return load_digits().data[:600].astype(np.float32)


@pytest.mark.parametrize("metric", neighbours.METRICS)
def test_exact_knn_matches_brute_force(X, metric):
    idx, dist = exact_knn(X, 15, metric, block_size=128)
    ref_dist, _ = (
        NearestNeighbors(n_neighbors=15, metric=metric, algorithm="brute")
        .fit(X.astype(np.float64))
        .kneighbors(X.astype(np.float64))
    )
    assert idx.shape == dist.shape == (len(X), 15)
    assert (idx[:, 0] == np.arange(len(X))).all()
    assert np.all(np.diff(dist, axis=1) >= 0)
    np.testing.assert_allclose(dist, ref_dist, atol=1e-4, rtol=1e-5)


def test_self_is_first_among_duplicates():
    X = np.repeat(np.arange(20, dtype=np.float32)[:, None], 3, axis=0)
    idx, dist = exact_knn(X, 4)
    assert (idx[:, 0] == np.arange(len(X))).all()
    assert (dist[:, :3] == 0).all()


def test_smooth_knn_dist_matches_umap(X):
    _, dist = exact_knn(X, 15)
    sigma, rho = smooth_knn_dist(dist, 15.0)
    ref_sigma, ref_rho = umap_.smooth_knn_dist(dist, 15.0)
    np.testing.assert_allclose(rho, ref_rho, rtol=0, atol=0)
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-4)


@pytest.mark.parametrize("metric", neighbours.METRICS)
def test_fuzzy_simplicial_set_matches_umap(X, metric):
    idx, dist = exact_knn(X, 15, metric)
    ours = fuzzy_simplicial_set(idx, dist)
    ref = umap_.fuzzy_simplicial_set(
        X, 15, np.random.RandomState(0), metric, knn_indices=idx, knn_dists=dist
    )[0].tocsr()
    assert ours.shape == ref.shape
    pattern = (ours != 0).astype(np.int8) - (ref != 0).astype(np.int8)
    assert pattern.count_nonzero() == 0
    assert abs(ours - ref).max() <= 1e-4
    assert abs(ours - ours.T).max() == 0


def test_edge_list_holds_both_directions(X):
    edges = build_graph(X, 10)
    assert isinstance(edges, EdgeList)
    assert edges.head.dtype == np.int64 and edges.weight.dtype == np.float32
    mat = scipy.sparse.coo_matrix((edges.weight, (edges.head, edges.tail)), shape=(len(X),) * 2)
    assert abs(mat - mat.T).max() == 0
    assert edges.weight.min() > 0 and edges.weight.max() <= 1
    assert (edges.head != edges.tail).all()


def test_pynndescent_above_threshold_finds_nearly_all_neighbours(monkeypatch):
    """The CPU's default search above ``EXACT_KNN_MAX_SAMPLES`` rows, on 300 of them.

    Nearly all of its time (~40 s on 2 cores) is pynndescent's numba compilation, which
    no size avoids; it runs by default so that the large-data path is tested in every CI.
    """
    X = load_digits().data[:300].astype(np.float32)
    monkeypatch.setattr(neighbours, "EXACT_KNN_MAX_SAMPLES", 100)
    searched = []
    original = neighbours.approximate_knn

    def spy(X, *args, **kwargs):
        searched.append(len(X))
        return original(X, *args, **kwargs)

    monkeypatch.setattr(neighbours, "approximate_knn", spy)
    idx, dist = nearest_neighbors(X, 15, "euclidean", random_state=0)
    assert searched == [300]
    exact_idx, exact_dist = exact_knn(X, 15)
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(idx, exact_idx, strict=True)])
    assert recall >= 0.95
    assert (idx[:, 0] == np.arange(len(X))).all()
    # Distances are the true ones, sorted, and never shorter than the exact k-th.
    true = np.linalg.norm(X[idx] - X[:, None, :], axis=-1)
    np.testing.assert_allclose(dist, true, rtol=1e-5, atol=1e-4)
    assert np.all(np.diff(dist, axis=1) >= 0)
    assert np.all(dist[:, -1] >= exact_dist[:, -1] - 1e-4)
