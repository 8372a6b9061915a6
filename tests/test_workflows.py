"""Workflows of issue 12 at the estimator: reuse neighbours or a graph, umap-learn's knobs,
continue training, and keep a layout with landmarks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.metrics import pairwise_distances

from glass_box_umap import GlassBoxUMAP
from glass_box_umap.nearest_neighbors import exact_knn

from .conftest import FAST

KW = dict(FAST, epochs=3)


def _spread(embedding: np.ndarray) -> float:
    return float(np.linalg.norm(embedding - embedding.mean(0), axis=1).mean())


def test_precomputed_neighbours_give_the_bit_identical_fit(digits):
    X, _ = digits
    computed = GlassBoxUMAP(random_state=0, **KW).fit(X)
    # the neighbours the fit searched: exact, on the encoder inputs (centred and scaled)
    indices, distances = exact_knn(computed.map_.prepare(X).numpy(), 15)
    reused = GlassBoxUMAP(random_state=0, precomputed_knn=(indices, distances), **KW).fit(X)
    np.testing.assert_array_equal(reused.embedding_, computed.embedding_)
    # too narrow tables are refused before any work
    with pytest.raises(ValueError, match="n_neighbors"):
        GlassBoxUMAP(n_neighbors=30, precomputed_knn=(indices, distances), **KW).fit(X)
    with pytest.raises(TypeError, match="precomputed_knn: expected None or a tuple"):
        GlassBoxUMAP(precomputed_knn=indices, **KW).fit(X)


def test_precomputed_distance_matrix_is_read_and_rows_are_the_features(digits):
    X, _ = digits
    D = pairwise_distances(X[:200])
    reducer = GlassBoxUMAP(metric="precomputed", random_state=0, **KW).fit(D)
    assert reducer.embedding_.shape == (200, 2) and reducer.n_features_in_ == 200
    # transform takes distances to the training samples; contributions are per sample
    new = pairwise_distances(X[200:230], X[:200])
    C = reducer.compute_contributions(new)
    np.testing.assert_allclose(C.sum(-1), reducer.transform(new), atol=1e-4)
    sparse = GlassBoxUMAP(metric="precomputed", random_state=0, **KW).fit(
        scipy.sparse.csr_matrix(D)
    )
    assert np.isfinite(sparse.embedding_).all()
    with pytest.raises(ValueError, match="square distance matrix"):
        GlassBoxUMAP(metric="precomputed", **KW).fit(X)


def test_a_given_graph_is_embedded_instead_of_building_one(digits):
    X, y = digits
    built = GlassBoxUMAP(random_state=0, **KW).fit(X)
    n = len(X)
    graph = scipy.sparse.coo_matrix(
        (built.graph_.weight, (built.graph_.head, built.graph_.tail)), shape=(n, n)
    )
    given = GlassBoxUMAP(random_state=0, **KW).fit(X, graph=graph)
    np.testing.assert_array_equal(given.embedding_, built.embedding_)
    with pytest.raises(ValueError, match="graph: must be symmetric"):
        GlassBoxUMAP(**KW).fit(X, graph=scipy.sparse.triu(graph))
    with pytest.raises(ValueError, match=r"graph: expected shape \(400, 400\)"):
        GlassBoxUMAP(**KW).fit(X, graph=graph.tocsr()[:10])


def test_umap_learn_knobs_reach_the_graph_and_the_curve(digits):
    X, _ = digits
    reducer = GlassBoxUMAP(
        random_state=0,
        spread=2.0,
        min_dist=0.5,
        local_connectivity=2.0,
        set_op_mix_ratio=0.5,
        metric="minkowski",
        metric_kwds={"p": 3},
        **KW,
    ).fit(X)
    from umap.umap_ import find_ab_params

    np.testing.assert_allclose((reducer.a_, reducer.b_), find_ab_params(2.0, 0.5), rtol=1e-6)
    default = GlassBoxUMAP(random_state=0, **KW).fit(X)
    assert len(reducer.graph_.head) != len(default.graph_.head)
    with pytest.raises(ValueError, match="min_dist: must be at most spread"):
        GlassBoxUMAP(min_dist=1.5, **KW).fit(X)
    with pytest.raises(ValueError, match="knn_method"):
        GlassBoxUMAP(metric="hamming", knn_method="exact", **KW).fit(X)


def test_warm_start_continues_from_the_fitted_weights(digits):
    X, _ = digits
    first = GlassBoxUMAP(random_state=0, **KW).fit(X)
    before = first.transform(X)
    first.set_params(warm_start=True, epochs=1, lr=1e-6)
    first.fit(X)
    # a tiny learning rate from the fitted weights: the map barely moves
    assert np.abs(first.transform(X) - before).max() < 0.05 * _spread(before)
    fresh = GlassBoxUMAP(random_state=1, **dict(KW, epochs=1, lr=1e-6)).fit(X)
    assert np.abs(fresh.embedding_ - before).max() > 0.5 * _spread(before)
    continued = first.transform(X)
    first.set_params(encoder_kwargs={"hidden_size": 8})
    with pytest.raises(ValueError, match="warm_start: the fitted encoder does not fit"):
        first.fit(X)
    # a failed update loses nothing: the fitted model still answers as before
    np.testing.assert_array_equal(first.transform(X), continued)
    first.set_params(encoder_kwargs={})
    with pytest.raises(ValueError, match="warm_start: X has samples of shape"):
        first.fit(X[:, :32])


def test_landmarks_hold_old_points_where_they_were(digits):
    X, _ = digits
    old = GlassBoxUMAP(random_state=0, **dict(KW, epochs=6)).fit(X[:250])
    positions = np.full((len(X), 2), np.nan)
    positions[:250] = old.embedding_
    spread = _spread(old.embedding_)

    def displacement(model):
        return np.median(np.linalg.norm(model.transform(X[:250]) - old.embedding_, axis=1))

    kw = dict(KW, epochs=6, warm_start=True, random_state=0)
    held = GlassBoxUMAP(**kw, landmark_weight=10.0)
    held.fit(X[:250])  # the model to continue from
    held.fit(X, landmark_positions=positions)
    free = GlassBoxUMAP(**kw)
    free.fit(X[:250])
    free.fit(X)
    new = GlassBoxUMAP(random_state=3, **dict(KW, epochs=6)).fit(X)
    assert displacement(held) < displacement(free) < displacement(new)
    assert displacement(held) < 0.25 * spread
    with pytest.raises(ValueError, match="landmark_positions: expected shape"):
        GlassBoxUMAP(**KW).fit(X, landmark_positions=positions[:10])
    bad = positions.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="landmark_positions: row 0 is partly NaN"):
        GlassBoxUMAP(**KW).fit(X, landmark_positions=bad)


def test_new_parameters_round_trip_through_a_saved_model(digits, tmp_path):
    X, _ = digits
    reducer = GlassBoxUMAP(
        random_state=0, spread=1.5, local_connectivity=1.5, landmark_weight=3.0, **KW
    ).fit(X)
    reducer.save(tmp_path / "m.safetensors")
    loaded = GlassBoxUMAP.load(tmp_path / "m.safetensors")
    for name in ("spread", "local_connectivity", "landmark_weight", "warm_start"):
        assert loaded.get_params()[name] == reducer.get_params()[name]
    np.testing.assert_array_equal(loaded.transform(X), reducer.transform(X))
