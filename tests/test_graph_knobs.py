"""umap-learn's graph knobs: metrics and their keywords, local_connectivity,
set_op_mix_ratio, disconnection_distance, precomputed neighbours and distance matrices,
and a, b from spread and min_dist; each against umap-learn (or sklearn) where it is the
reference."""

import math

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_breast_cancer, load_digits, make_blobs
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from glass_box_umap import affinity
from glass_box_umap import nearest_neighbors as neighbours
from glass_box_umap.affinity import (
    build_graph,
    default_disconnection_distance,
    fuzzy_simplicial_set,
    smooth_knn_dist,
)
from glass_box_umap.loss import find_ab_params
from glass_box_umap.nearest_neighbors import (
    check_metric,
    check_precomputed_knn,
    exact_knn,
    knn_from_distances,
    resolve_knn_method,
)

from .conftest import require_module

umap_ = require_module("umap.umap_")

K = 15


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    """Continuous clustered data: no tied distances, so every search agrees on neighbours."""
    data, _ = make_blobs(400, 10, centers=6, random_state=0)
    return data.astype(np.float32)


@pytest.fixture(scope="module")
def knn(X) -> tuple[np.ndarray, np.ndarray]:
    return exact_knn(X, K)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data[:300].astype(np.float32)


def _umap_graph(X, indices, distances, **kwargs):
    graph_, sigmas, _ = umap_.fuzzy_simplicial_set(
        X, indices.shape[1], np.random.RandomState(0), "euclidean",
        knn_indices=indices, knn_dists=distances, **kwargs,
    )  # fmt: skip
    return graph_.tocsr(), sigmas


def _assert_same_graph(ours, ref, atol=1e-6):
    assert ours.shape == ref.shape
    pattern = (ours != 0).astype(np.int8) - (ref != 0).astype(np.int8)
    assert pattern.count_nonzero() == 0
    assert abs(ours - ref).max() <= atol


def _edges(e: affinity.EdgeList) -> tuple:
    return e.head.tobytes(), e.tail.tobytes(), e.weight.tobytes(), e.n_vertices


# ---------------------------------------------------------------- metrics
def test_metric_names_are_pynndescents_and_umap_learns_disconnection_defaults():
    distances = require_module("pynndescent.distances")
    assert set(neighbours.PYNNDESCENT_METRICS) == set(distances.named_distances)
    assert set(neighbours.METRICS) <= set(neighbours.PYNNDESCENT_METRICS)
    assert set(neighbours.METRIC_ALIASES.values()) <= set(neighbours.METRICS)
    assert set(neighbours.FAISS_METRICS) <= set(neighbours.METRICS)
    for metric in neighbours.ALL_METRICS:
        expected = umap_.DISCONNECTION_DISTANCES.get(metric, np.inf)
        assert default_disconnection_distance(metric) == expected


# sklearn's name and keywords for each (metric, metric_kwds) the exact search serves.
EXACT_CASES = [
    ("euclidean", None, "euclidean", {}),
    ("l2", None, "euclidean", {}),
    ("sqeuclidean", None, "sqeuclidean", {}),
    ("manhattan", None, "manhattan", {}),
    ("l1", None, "manhattan", {}),
    ("taxicab", None, "manhattan", {}),
    ("chebyshev", None, "chebyshev", {}),
    ("linf", None, "chebyshev", {}),
    ("linfinity", None, "chebyshev", {}),
    ("linfty", None, "chebyshev", {}),
    ("minkowski", None, "minkowski", {"p": 2}),
    ("minkowski", {"p": 3}, "minkowski", {"p": 3}),
    ("minkowski", {"p": 1.5}, "minkowski", {"p": 1.5}),
    ("cosine", None, "cosine", {}),
    ("correlation", None, "correlation", {}),
]


@pytest.mark.parametrize(("metric", "kwds", "sk_metric", "sk_kwds"), EXACT_CASES)
def test_exact_knn_distances_equal_pairwise_distances(digits, metric, kwds, sk_metric, sk_kwds):
    idx, dist = exact_knn(digits, K, metric, block_size=128, metric_kwds=kwds)
    D = pairwise_distances(digits.astype(np.float64), metric=sk_metric, **sk_kwds)
    rows = np.arange(len(digits))[:, None]
    assert (idx[:, 0] == rows[:, 0]).all()
    assert np.all(np.diff(dist, axis=1) >= 0)
    # The distances reported are those of the neighbours found, and they are the k smallest.
    np.testing.assert_allclose(dist, D[rows, idx], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dist, np.sort(D, axis=1)[:, :K], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("metric", "kwds", "method"),
    [
        ("manhattan", None, "exact"),
        ("minkowski", {"p": 3}, "exact"),
        ("hamming", None, "pynndescent"),
    ],
)
def test_auto_searches_exactly_what_exact_search_serves(metric, kwds, method):
    assert resolve_knn_method("auto", 1000, metric, None, metric_kwds=kwds) == method
    assert resolve_knn_method("auto", 1000, "precomputed", None) == "exact"


@pytest.mark.parametrize(
    ("metric", "kwds", "knn_method", "error", "match"),
    [
        (
            "hamming",
            None,
            "exact",
            ValueError,
            r"knn_method: 'exact' cannot search metric 'hamming'.*'pynndescent'",
        ),
        (
            "manhattan",
            None,
            "faiss",
            ValueError,
            r"knn_method: 'faiss' cannot .*'manhattan'.*'exact', 'pynndescent'",
        ),
        (
            "precomputed",
            None,
            "pynndescent",
            ValueError,
            r"knn_method: 'pynndescent' .*'precomputed'.*'exact'",
        ),
        ("precomputed", None, "faiss", ValueError, r"knn_method: 'faiss'"),
        ("nope", None, "auto", ValueError, r"metric: unknown metric 'nope'"),
        (None, None, "auto", TypeError, r"metric: expected a metric name"),
        ("euclidean", None, "annoy", ValueError, r"knn_method: expected one of"),
        ("minkowski", [("p", 3)], "auto", TypeError, r"metric_kwds: expected None or a dict"),
        (
            "minkowski",
            {"w": 1},
            "exact",
            ValueError,
            r"metric_kwds: metric 'minkowski' .*only \['p'\].*pynndescent",
        ),
        (
            "euclidean",
            {"p": 3},
            "auto",
            ValueError,
            r"metric_kwds: metric 'euclidean' .*no keywords",
        ),
        ("cosine", {"p": 3}, "faiss", ValueError, r"metric_kwds: .*'faiss' takes no keywords"),
        ("minkowski", {"p": 0}, "auto", ValueError, r"metric_kwds\['p'\]: must be"),
        ("minkowski", {"p": "3"}, "pynndescent", TypeError, r"metric_kwds\['p'\]: expected a real"),
        ("precomputed", {"p": 3}, "auto", ValueError, r"metric_kwds: metric 'precomputed'"),
    ],
)
def test_metric_errors_name_the_argument_before_any_search(
    X, monkeypatch, metric, kwds, knn_method, error, match
):
    def no_search(*args, **kwargs):
        raise AssertionError("searched before checking")

    monkeypatch.setattr(affinity, "nearest_neighbors", no_search)
    with pytest.raises(error, match=match):
        check_metric(metric, kwds, knn_method)
    with pytest.raises(error, match=match):
        build_graph(X, K, metric, knn_method=knn_method, metric_kwds=kwds)


def test_pynndescent_receives_metric_and_keywords_and_puts_self_first(X, knn, monkeypatch):
    """A stand-in for NNDescent (no numba compilation): what it is given, what is made of
    its answer. Metrics exact search serves get exact distances; others keep pynndescent's."""
    pynndescent = require_module("pynndescent")
    calls = []
    idx, dist = knn
    # An approximate answer: row 0 lacks itself, row 1 has a missing (-1) neighbour.
    answer_idx, answer_dist = idx.copy(), dist.copy()
    answer_idx[0] = np.r_[idx[0, 1:], 399]
    answer_dist[0] = np.r_[dist[0, 1:], 99.0]
    answer_idx[1, -1], answer_dist[1, -1] = -1, np.inf

    class FakeNNDescent:
        def __init__(self, data, **kwargs):
            calls.append(kwargs)
            self.neighbor_graph = (answer_idx, answer_dist)

    monkeypatch.setattr(pynndescent, "NNDescent", FakeNNDescent)
    got_idx, got_dist = neighbours.nearest_neighbors(
        X, K, "minkowski", 0, knn_method="pynndescent", metric_kwds={"p": 3}
    )
    assert calls[-1]["metric"] == "minkowski" and calls[-1]["metric_kwds"] == {"p": 3}
    assert calls[-1]["n_neighbors"] == K and calls[-1]["random_state"] == 0
    assert (got_idx[:, 0] == np.arange(len(X))).all()
    minkowski3 = np.linalg.norm(X[got_idx] - X[:, None, :], ord=3, axis=-1)
    np.testing.assert_allclose(got_dist, minkowski3, rtol=1e-5, atol=1e-5)

    got_idx, got_dist = neighbours.nearest_neighbors(X, K, "canberra", knn_method="auto")
    assert calls[-1]["metric"] == "canberra" and calls[-1]["metric_kwds"] is None
    assert (got_idx[:, 0] == np.arange(len(X))).all() and (got_dist[:, 0] == 0).all()
    # Row 0: itself replaced the farthest candidate; row 1: the missing one became a
    # self loop (weightless); other rows are pynndescent's own, untouched.
    np.testing.assert_array_equal(got_idx[0], idx[0])
    np.testing.assert_array_equal(got_dist[0], dist[0])
    assert (got_idx[1] == 1).sum() == 2
    np.testing.assert_array_equal(got_idx[2:], idx[2:])
    np.testing.assert_array_equal(got_dist[2:], dist[2:])


@pytest.mark.slow
def test_pynndescent_serves_minkowski_p3_and_canberra(digits):
    """Real pynndescent (about a minute of numba compilation per metric on 2 cores)."""
    for metric, kwds in [("minkowski", {"p": 3}), ("canberra", None)]:
        idx, dist = neighbours.approximate_knn(digits, K, metric, 0, metric_kwds=kwds)
        D = pairwise_distances(digits.astype(np.float64), metric=metric, **(kwds or {}))
        rows = np.arange(len(digits))[:, None]
        assert (idx[:, 0] == rows[:, 0]).all()
        np.testing.assert_allclose(dist, D[rows, idx], rtol=1e-5, atol=1e-4)
        assert np.mean(dist[:, -1] <= np.sort(D, axis=1)[:, K - 1] + 1e-4) >= 0.95


def test_faiss_serves_sqeuclidean(X, knn):
    require_module("faiss")
    idx, dist = neighbours.faiss_knn(X, K, "sqeuclidean")
    np.testing.assert_array_equal(idx, knn[0])
    np.testing.assert_allclose(dist, knn[1] ** 2, rtol=1e-5)


# ---------------------------------------------------------------- the fuzzy set's knobs
@pytest.mark.parametrize("local_connectivity", [0.0, 0.5, 1.0, 1.5, 2.0, 3.7])
def test_smooth_knn_dist_matches_umap_for_local_connectivity(X, local_connectivity):
    # Duplicates give rows with fewer positive distances than local_connectivity (one
    # point 14 times: none; another 13 times: one), umap-learn's other branches.
    data = np.concatenate([X, np.repeat(X[:1] + 50, 14, 0), np.repeat(X[1:2] - 50, 13, 0)])
    _, dist = exact_knn(data, K)
    sigma, rho = smooth_knn_dist(dist, float(K), local_connectivity=local_connectivity)
    ref_sigma, ref_rho = umap_.smooth_knn_dist(
        dist, float(K), local_connectivity=local_connectivity
    )
    np.testing.assert_array_equal(rho, ref_rho)
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-6)


def _pruned(indices, distances, cut):
    """What umap-learn's UMAP.fit hands fuzzy_simplicial_set after disconnection_distance."""
    removed = distances >= cut
    return np.where(removed, -1, indices), np.where(removed, np.inf, distances).astype(np.float32)


def _finite_prefix_smooth_knn_dist(distances, k, n_iter=64, local_connectivity=1.0, bandwidth=1.0):
    """umap-learn's smooth_knn_dist on each row's finite (kept) distances only.

    Removed neighbours are a suffix of each sorted row; grouping rows by how many they
    keep runs umap-learn's own kernel on exactly those. This is the fix of
    lmcinnes/umap#1286 (released umap-learn lets the infinite distances into the mean
    distance floor, which makes sigma infinite for every point that lost a neighbour).
    """
    width = np.isfinite(distances).sum(axis=1)
    sigma = np.empty(len(distances), dtype=np.float32)
    rho = np.empty(len(distances), dtype=np.float32)
    for w in np.unique(width):
        rows = np.flatnonzero(width == w)
        sigma[rows], rho[rows] = _UMAP_SMOOTH_KNN_DIST(
            np.ascontiguousarray(distances[rows, :w]), k, n_iter, local_connectivity, bandwidth
        )
    return sigma, rho


_UMAP_SMOOTH_KNN_DIST = umap_.smooth_knn_dist


@pytest.mark.parametrize("cut", [None, 3.6])
@pytest.mark.parametrize("set_op_mix_ratio", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("local_connectivity", [0.5, 1.0, 1.5, 2.0])
def test_fuzzy_simplicial_set_matches_umap_over_the_knobs(
    X, knn, monkeypatch, local_connectivity, set_op_mix_ratio, cut
):
    idx, dist = knn
    ours = fuzzy_simplicial_set(
        idx,
        dist,
        local_connectivity=local_connectivity,
        set_op_mix_ratio=set_op_mix_ratio,
        disconnection_distance=cut,
    )
    kwargs = dict(local_connectivity=local_connectivity, set_op_mix_ratio=set_op_mix_ratio)
    if cut is None:
        ref, _ = _umap_graph(X, idx, dist, **kwargs)
    else:
        removed = dist >= cut
        assert 500 < removed.sum() and 0 < removed.any(axis=1).sum() < len(X) // 2
        pruned = _pruned(idx, dist, cut)
        ref, sigmas = _umap_graph(X, *pruned, **kwargs)
        if not np.isfinite(sigmas).all():
            # umap-learn <= 0.5.12 (lmcinnes/umap#1286): compare with its pipeline fixed.
            monkeypatch.setattr(umap_, "smooth_knn_dist", _finite_prefix_smooth_knn_dist)
            ref, sigmas = _umap_graph(X, *pruned, **kwargs)
            assert np.isfinite(sigmas).all()
        # Distances are symmetric, so a pair at or beyond the cut lost both directions.
        coo = ours.tocoo()
        assert (np.linalg.norm(X[coo.row] - X[coo.col], axis=1) < cut + 1e-5).all()
    _assert_same_graph(ours, ref)
    assert abs(ours - ours.T).max() == 0


def test_disconnection_keeps_the_kernel_graded_and_default_comes_from_the_metric(X, knn):
    idx, dist = knn
    cut = 3.6
    g = fuzzy_simplicial_set(idx, dist, disconnection_distance=cut, set_op_mix_ratio=0.0)
    sigma, _ = smooth_knn_dist(_pruned(idx, dist, cut)[1], float(K))
    assert np.isfinite(sigma).all()
    # Intersection: an edge survives only if neither direction was cut.
    coo = g.tocoo()
    assert (np.linalg.norm(X[coo.row] - X[coo.col], axis=1) < cut).all()
    assert (g.data < 1).sum() > 0.9 * g.nnz  # graded strengths, not all 1
    everything = fuzzy_simplicial_set(idx, dist, disconnection_distance=1e-9)
    assert everything.nnz == 0
    inf = fuzzy_simplicial_set(idx, dist, disconnection_distance=math.inf)
    assert abs(inf - fuzzy_simplicial_set(idx, dist)).max() == 0
    # Cosine's default cut is 2 (umap-learn's): antipodal points are not neighbours.
    two = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    assert build_graph(two, 2, "cosine").head.size == 0
    assert build_graph(two, 2, "cosine", disconnection_distance=math.inf).head.size == 2
    assert build_graph(two, 2, "euclidean").head.size == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"local_connectivity": -1},
            ValueError,
            r"local_connectivity: must be finite and in \[0.0",
        ),
        ({"local_connectivity": math.nan}, ValueError, r"local_connectivity: must be finite"),
        ({"local_connectivity": "1"}, TypeError, r"local_connectivity: expected a real number"),
        ({"local_connectivity": True}, TypeError, r"local_connectivity: expected a real number"),
        (
            {"set_op_mix_ratio": 1.5},
            ValueError,
            r"set_op_mix_ratio: must be finite and in \[0.0, 1.0\]",
        ),
        ({"set_op_mix_ratio": -0.1}, ValueError, r"set_op_mix_ratio"),
        (
            {"disconnection_distance": 0},
            ValueError,
            r"disconnection_distance: must be in \(0.0, inf\]",
        ),
        ({"disconnection_distance": math.nan}, ValueError, r"disconnection_distance: must be"),
        ({"disconnection_distance": "far"}, TypeError, r"disconnection_distance: expected a real"),
    ],
)
def test_knob_errors_name_the_parameter_before_any_search(
    X, knn, monkeypatch, kwargs, error, match
):
    def no_search(*args, **kw):
        raise AssertionError("searched before checking")

    monkeypatch.setattr(affinity, "nearest_neighbors", no_search)
    with pytest.raises(error, match=match):
        build_graph(X, K, **kwargs)
    with pytest.raises(error, match=match):
        fuzzy_simplicial_set(*knn, **kwargs)


def test_find_ab_params_equals_umap_learns():
    for spread in (0.5, 1.0, 2.0, 3.0):
        for min_dist in (0.0, 0.001, 0.1, 0.5, 1.0):
            if min_dist <= spread:
                ref = umap_.find_ab_params(spread, min_dist)
                np.testing.assert_allclose(find_ab_params(spread, min_dist), ref, rtol=1e-12)


# ---------------------------------------------------------------- precomputed neighbours
def test_precomputed_knn_gives_the_bit_identical_graph(X, knn, monkeypatch):
    kwargs = dict(local_connectivity=1.5, set_op_mix_ratio=0.5, disconnection_distance=4.0)
    computed = build_graph(X, K, knn_method="exact", **kwargs)
    wide = exact_knn(X, 2 * K)
    np.testing.assert_array_equal(wide[0][:, :K], knn[0])

    def no_search(*args, **kw):
        raise AssertionError("precomputed_knn must skip the search")

    monkeypatch.setattr(affinity, "nearest_neighbors", no_search)
    for given in (knn, wide, (*wide, None), [wide[0].astype(np.int32), wide[1].astype(np.float64)]):
        assert _edges(build_graph(X, K, precomputed_knn=given, **kwargs)) == _edges(computed)


def test_precomputed_knn_is_truncated_and_self_moved_first_among_duplicates():
    idx = np.array([[0, 1, 2], [0, 1, 2], [2, 0, 1]])
    dist = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 1.0], [0.0, 1.0, 2.0]])
    got_idx, got_dist = check_precomputed_knn((idx, dist), 3, 2)
    # Row 1: point 0 is a duplicate of 1 (distance 0); point 1 itself is moved first.
    np.testing.assert_array_equal(got_idx, [[0, 1], [1, 0], [2, 0]])
    np.testing.assert_array_equal(got_dist, [[0, 1], [0, 0], [0, 1]])
    assert got_idx.dtype == np.int64 and got_dist.dtype == np.float32


def _bad_knn(knn, what):
    idx, dist = knn[0].copy(), knn[1].copy()
    if what == "float indices":
        return idx.astype(np.float64), dist
    if what == "-1":
        idx[5, 3] = -1
    elif what == "too large":
        idx[5, 3] = len(idx)
    elif what == "nan":
        dist[7, 2] = np.nan
    elif what == "negative":
        dist[7, 2] = -1.0
    elif what == "unsorted":
        dist[9, [2, 3]] = dist[9, [3, 2]]
    elif what == "repeated":
        idx[11, 4] = idx[11, 3]
    elif what == "no self":  # NearestNeighbors().kneighbors() with no argument: self left out
        idx, dist = np.roll(idx, -1, axis=1), np.roll(dist, -1, axis=1)
        dist[:, -1] = dist[:, -2] + 1
    return idx, dist


@pytest.mark.parametrize(
    ("what", "n_neighbors", "error", "match"),
    [
        ("float indices", K, TypeError, r"precomputed_knn: indices must have an integer dtype"),
        ("-1", K, ValueError, r"precomputed_knn: indices\[5, 3\] = -1 is outside \[0, 400\)"),
        ("too large", K, ValueError, r"precomputed_knn: indices\[5, 3\] = 400 is outside"),
        (
            "nan",
            K,
            ValueError,
            r"precomputed_knn: distances\[7, 2\] = nan; .*finite and non-negative",
        ),
        ("negative", K, ValueError, r"precomputed_knn: distances\[7, 2\] = -1.0"),
        ("unsorted", K, ValueError, r"precomputed_knn: row 9 is not sorted"),
        ("repeated", K, ValueError, r"precomputed_knn: row 11 lists neighbour \d+ more than once"),
        (
            "no self",
            K,
            ValueError,
            r"precomputed_knn: row 0 starts with point \d+ at distance .*not with point 0 itself",
        ),
        (
            "ok",
            K + 1,
            ValueError,
            r"precomputed_knn: holds 15 neighbours per point .*fewer than n_neighbors=16",
        ),
    ],
)
def test_precomputed_knn_errors_say_what_was_wrong(knn, what, n_neighbors, error, match):
    with pytest.raises(error, match=match):
        check_precomputed_knn(_bad_knn(knn, what), len(knn[0]), n_neighbors)


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        ("indices", TypeError, r"precomputed_knn: expected a tuple \(indices, distances\)"),
        ("one", TypeError, r"precomputed_knn: expected a tuple"),
        (
            "shapes",
            ValueError,
            r"precomputed_knn: indices and distances must be 2-D arrays of the same shape",
        ),
        ("rows", ValueError, r"precomputed_knn: has neighbours for 399 points, the data has 400"),
        ("complex", TypeError, r"precomputed_knn: distances must be real numbers"),
    ],
)
def test_precomputed_knn_shape_errors(knn, given, error, match):
    idx, dist = knn
    value = {
        "indices": idx,
        "one": (idx,),
        "shapes": (idx, dist[:, :-1]),
        "rows": (idx[:-1], dist[:-1]),
        "complex": (idx, dist.astype(np.complex64)),
    }[given]
    with pytest.raises(error, match=match):
        check_precomputed_knn(value, len(idx), K)


def test_sklearn_kneighbors_gives_the_fits_own_graph():
    """sklearn reports self-distances up to 1.7e-7 in 56 of 569 rows here (issue 20)."""
    X = StandardScaler().fit_transform(load_breast_cancer().data).astype(np.float32)
    dist, idx = NearestNeighbors(n_neighbors=K).fit(X).kneighbors(X)
    assert (dist[:, 0] > 0).sum() > 40 and dist[:, 0].max() > 1e-7
    own = exact_knn(X, K)
    np.testing.assert_array_equal(idx, own[0])
    given = build_graph(X, K, precomputed_knn=(idx, dist))
    ours = fuzzy_simplicial_set(*own)
    # Was 0.68 (edge 250-535). What is left is the two searches' float32 distances
    # (1.9e-6 apart) through the kernel; 1e-6 holds for neither against float64 truth.
    given_graph = scipy.sparse.csr_matrix((given.weight, (given.head, given.tail)))
    _assert_same_graph(given_graph, ours, atol=1e-5)
    zeroed = dist.copy()
    zeroed[:, 0] = 0.0
    assert _edges(given) == _edges(build_graph(X, K, precomputed_knn=(idx, zeroed)))


def test_self_distance_rounding_is_zero_and_a_wrong_one_is_named(X, knn):
    idx, dist = knn[0].copy(), knn[1].astype(np.float64)
    exact = _edges(build_graph(X, K, precomputed_knn=(idx, dist)))
    rounded = dist.copy()
    rounded[:, 0] = 1e-7
    assert _edges(build_graph(X, K, precomputed_knn=(idx, rounded))) == exact
    # A duplicate at 0 listed before the point itself at 1e-7: the point is moved first.
    dup_idx, dup = idx.copy(), rounded.copy()
    dup_idx[4, [0, 1]] = dup_idx[4, [1, 0]]
    dup[4, :2] = [0.0, 1e-7]
    got_idx, got_dist = check_precomputed_knn((dup_idx, dup), len(X), K)
    np.testing.assert_array_equal(got_idx[4, :2], [4, idx[4, 1]])
    np.testing.assert_array_equal(got_dist[4, :2], [0.0, 0.0])
    wrong = dist.copy()
    wrong[5] += 3.0
    with pytest.raises(
        ValueError, match=r"precomputed_knn: distances\[5, 0\] = 3.0 is the distance of point 5"
    ):
        check_precomputed_knn((idx, wrong), len(X), K)


def test_precomputed_knn_needs_two_neighbours(knn):
    with pytest.raises(ValueError, match=r"n_neighbors: must be in \[2, n_samples\] = \[2, 400\]"):
        check_precomputed_knn(knn, len(knn[0]), 1)


# ---------------------------------------------------------------- metric='precomputed'
def test_precomputed_distance_matrix_gives_the_euclidean_graph(X, knn):
    D = pairwise_distances(X.astype(np.float64))
    idx, dist = knn_from_distances(D, K)
    np.testing.assert_array_equal(idx, knn[0])
    np.testing.assert_allclose(dist, knn[1], rtol=1e-6)
    # umap-learn's neighbours from a matrix are its rows' argsort (fast_knn_indices): the
    # graph is umap-learn's on them, and the searched one to float32 rounding of distances.
    ref_idx = np.argsort(D, axis=1, kind="stable")[:, :K]
    ours = fuzzy_simplicial_set(idx, dist)
    ref, _ = _umap_graph(D, ref_idx, np.take_along_axis(D, ref_idx, axis=1))
    _assert_same_graph(ours, ref)
    _assert_same_graph(ours, fuzzy_simplicial_set(*knn), atol=1e-5)
    edges = build_graph(D, K, "precomputed")
    assert _edges(edges) == _edges(affinity.EdgeList.from_sparse(ours))
    # inf: not a neighbour. Far entries made infinite change nothing.
    far = D > np.sort(D, axis=1)[:, [K + 3]]
    assert _edges(build_graph(np.where(far, np.inf, D), K, "precomputed")) == _edges(edges)


@pytest.mark.slow
def test_precomputed_distance_matrix_graph_equals_umap_learns_own_path(X):
    """umap-learn reading the matrix itself (~15 s of numba compilation on 2 cores)."""
    D = pairwise_distances(X.astype(np.float64))
    ref = umap_.fuzzy_simplicial_set(D, K, np.random.RandomState(0), "precomputed")[0].tocsr()
    _assert_same_graph(fuzzy_simplicial_set(*knn_from_distances(D, K)), ref)


@pytest.mark.parametrize("sparse", [False, True])
def test_distance_matrix_diagonal_rounding_is_zero_and_a_wrong_one_is_named(X, sparse):
    D = pairwise_distances(X.astype(np.float64))
    exact = _edges(build_graph(D, K, "precomputed"))
    rounded = D.copy()
    np.fill_diagonal(rounded, 1e-7)
    wrap = scipy.sparse.csr_matrix if sparse else np.asarray
    assert _edges(build_graph(wrap(rounded), K, "precomputed")) == exact
    rounded[6, 6] = 3.0
    with pytest.raises(ValueError, match=r"diagonal.* must be 0 .*X\[6, 6\] = 3.0"):
        build_graph(wrap(rounded), K, "precomputed")


def test_sparse_distance_matrix_missing_entries_are_not_neighbours(X, knn):
    D = pairwise_distances(X.astype(np.float64))
    near = D <= np.sort(D, axis=1)[:, [K + 3]]
    sparse = scipy.sparse.csr_matrix(np.where(near, D, 0.0))  # diagonal not stored
    dense_edges = build_graph(D, K, "precomputed")
    assert _edges(build_graph(sparse, K, "precomputed")) == _edges(dense_edges)
    # Stored zeros off the diagonal are distances (duplicates), kept; self stays first.
    dup = sparse.copy()
    farthest = knn[0][0, -1]
    dup.data[
        dup.indptr[0] + np.flatnonzero(dup.indices[dup.indptr[0] : dup.indptr[1]] == farthest)
    ] = 0
    idx, dist = knn_from_distances(dup, K)
    assert idx[0, 0] == 0 and idx[0, 1] == farthest and dist[0, 1] == 0
    # A row with too few stored distances is an error naming the row.
    short = sparse.tolil()
    short[7, :] = 0
    short[7, [1, 2, 3]] = [1.0, 2.0, 3.0]
    with pytest.raises(
        ValueError, match=r"row 7 stores 3 finite distances .*n_neighbors=15 needs 14"
    ):
        build_graph(short.tocsr(), K, "precomputed")


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        (
            "not square",
            r"X: with metric=.precomputed., expected a square distance matrix, got shape \(400, 10",
        ),
        ("diagonal", r"the diagonal must be 0 .*X\[3, 3\] = 1.0"),
        ("negative", r"distances must be non-negative numbers, X\[4, 9\] = -1.0"),
        ("nan", r"distances must be non-negative numbers, X\[4, 9\] = nan"),
        ("few finite", r"row 2 has 9 finite distances to other points; n_neighbors=15 needs 14"),
        ("n_neighbors", r"n_neighbors: must be in \[2, n_samples\] = \[2, 400\], got 401"),
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_distance_matrix_errors(X, fault, match, sparse):
    D = pairwise_distances(X.astype(np.float64))
    k = K
    if fault == "not square":
        D = X
    elif fault == "diagonal":
        D[3, 3] = 1.0
    elif fault in ("negative", "nan"):
        D[4, 9] = -1.0 if fault == "negative" else np.nan
    elif fault == "few finite":
        D[2, 10:] = np.inf
    elif fault == "n_neighbors":
        k = len(X) + 1
    if sparse:
        if fault == "few finite":
            D[2, 10:] = 0.0
            match = r"row 2 stores 9 finite distances"
        elif fault == "diagonal":
            match = r"stored diagonal entries must be 0 .*X\[3, 3\] = 1.0"
        D = scipy.sparse.csr_matrix(D)
    with pytest.raises((ValueError, TypeError), match=match):
        build_graph(D, k, "precomputed")


# ---------------------------------------------------------------- magnitudes
def _graph(e: affinity.EdgeList) -> scipy.sparse.csr_matrix:
    return scipy.sparse.csr_matrix((e.weight, (e.head, e.tail)), shape=(e.n_vertices,) * 2)


@pytest.fixture(scope="module")
def normal() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(300, 10)).astype(np.float32)


@pytest.mark.parametrize("scale", [2.0**66, 1e20, 1e-30])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
def test_exact_search_and_graph_do_not_depend_on_the_magnitude(normal, scale, metric):
    """1e20 overflowed float32 squared norms (an IndexError in fit, issue 20), 1e-30 underflowed."""
    idx, dist = exact_knn(normal, K, metric)
    big_idx, big_dist = exact_knn(normal * np.float32(scale), K, metric)
    np.testing.assert_array_equal(big_idx, idx)
    unit = 1.0 if metric == "cosine" else np.float32(scale)
    np.testing.assert_allclose(big_dist / unit, dist, rtol=1e-6, atol=1e-6)
    if scale == 2.0**66:  # a power of two changes no bit but the exponent
        np.testing.assert_array_equal(big_dist / unit, dist)
    ours = _graph(build_graph(normal, K, metric))
    _assert_same_graph(_graph(build_graph(normal * np.float32(scale), K, metric)), ours, 1e-5)


def test_distances_beyond_float32_are_named(normal):
    with pytest.raises(ValueError, match=r"X: sqeuclidean distances beyond the float32 range"):
        exact_knn(normal * np.float32(1e20), K, "sqeuclidean")
    with pytest.raises(ValueError, match=r"X: sqeuclidean distances beyond the float32 range"):
        exact_knn(normal * np.float32(1e-30), K, "sqeuclidean")


@pytest.mark.parametrize("scale", [1e20, 1e37, 1e-30])
def test_precomputed_distances_of_any_magnitude_give_the_same_graph(normal, scale):
    """The kernel's bisection starts at sigma = 1: at 1e20 weights were 0.2 off, at 1e-30 0.99."""
    D = pairwise_distances(normal.astype(np.float64))
    ours = _graph(build_graph(D, K, "precomputed"))
    _assert_same_graph(_graph(build_graph(D * scale, K, "precomputed")), ours, 1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_precomputed_distances_beyond_float32_are_named(normal, sparse):
    D = pairwise_distances(normal.astype(np.float64)) * 1e300
    wrap = scipy.sparse.csr_matrix if sparse else np.asarray
    with pytest.raises(ValueError, match=r"X: with metric=.precomputed., finite distances must"):
        build_graph(wrap(D), K, "precomputed")
