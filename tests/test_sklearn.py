"""scikit-learn compatibility: estimator checks, clone, Pipeline, GridSearchCV, sparse, labels."""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from glass_box_umap import GlassBoxUMAP
from glass_box_umap.affinity import EdgeList
from glass_box_umap.supervised import intersect_with_labels, label_codes

from .conftest import FAST

#: Checks we skip, and why.
SKIPPED_CHECKS = {
    # The documented API default is encoder_kwargs={} (a dict); sklearn wants immutable
    # defaults. We never mutate it (copied in fit), so the contract holds.
    "check_parameters_default_constructible": "encoder_kwargs={} is the documented default",
    # sklearn wants its own wording ("argument must be a string or a number") for object
    # arrays holding strings; ours names X and says the values are not real numbers.
    "check_dtype_object": "different wording for object arrays holding strings",
}


def test_sklearn_estimator_checks():
    est = GlassBoxUMAP(
        epochs=2, batch_size=512, num_batches=2, n_neighbors=5, quiet=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = {
        r["check_name"]: str(r["exception"])[:200]
        for r in results
        if r["status"] == "failed" and r["check_name"] not in SKIPPED_CHECKS
    }
    assert not failed
    ran = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_fit_idempotent", "check_transformer_general", "check_n_features_in"} <= ran


def test_clone_pipeline_gridsearch(digits):
    X, y = digits
    reducer = GlassBoxUMAP(n_neighbors=10, random_state=0, **dict(FAST, epochs=40, batch_size=1024))
    twin = clone(reducer)
    assert twin.get_params() == reducer.get_params() and twin is not reducer
    pipe = make_pipeline(StandardScaler(), reducer, KNeighborsClassifier(10))
    pipe.fit(X[:300], y[:300])
    assert pipe.score(X[300:], y[300:]) > 0.6
    search = GridSearchCV(
        pipe, {"glassboxumap__n_neighbors": [5, 15]}, cv=2, scoring="accuracy", error_score="raise"
    )
    search.fit(X[:300], y[:300])
    assert search.best_params_["glassboxumap__n_neighbors"] in (5, 15)
    assert len(search.cv_results_["mean_test_score"]) == 2
    fitted = search.best_estimator_[1]
    assert fitted.n_features_in_ == 64
    assert list(fitted.get_feature_names_out()) == ["glassboxumap0", "glassboxumap1"]
    assert fitted.embedding_.shape == (300, 2)


def test_sparse_input_matches_dense(digits):
    X, _ = digits
    sparse = scipy.sparse.csr_matrix(X)
    dense_fit = GlassBoxUMAP(random_state=0, **FAST).fit(X)
    sparse_fit = GlassBoxUMAP(random_state=0, **FAST).fit(sparse)
    np.testing.assert_allclose(sparse_fit.embedding_, dense_fit.embedding_, rtol=1e-4, atol=1e-4)
    C = sparse_fit.compute_contributions(sparse)
    assert C.shape == (400, 2, 64)
    np.testing.assert_allclose(C.sum(-1), sparse_fit.transform(sparse), atol=1e-4)
    np.testing.assert_array_equal(sparse_fit.transform(sparse), sparse_fit.transform(X))


def test_sparse_data_with_pca_is_never_densified_whole(monkeypatch):
    """Densifying the whole matrix at once fails the test; chunks of rows are fine.

    20,000 x 600 is large enough (12M values) for every whole-matrix check to be skipped
    and for fit to densify in chunks; a dense copy would take 96 MB.
    """
    n, d = 20_000, 600
    rng = np.random.default_rng(0)
    sparse = scipy.sparse.random(n, d, density=0.01, format="csr", random_state=rng)
    sparse = sparse @ scipy.sparse.diags(rng.uniform(0.5, 2.0, d))  # unequal variances
    largest = []

    def guarded(original):
        def densify(self, *args, **kwargs):
            largest.append(self.shape[0] * self.shape[1])
            if self.shape[0] * self.shape[1] >= n * d:
                raise AssertionError(f"densified a {self.shape} sparse matrix whole")
            return original(self, *args, **kwargs)

        return densify

    for cls in (
        scipy.sparse.csr_matrix,
        scipy.sparse.csr_array,
        scipy.sparse.csc_matrix,
        scipy.sparse.csc_array,
        scipy.sparse.coo_matrix,
        scipy.sparse.coo_array,
    ):
        for method in ("toarray", "todense"):
            monkeypatch.setattr(cls, method, guarded(getattr(cls, method)))
    pca = GlassBoxUMAP(random_state=0, pca_components=8, **dict(FAST, epochs=1, num_batches=2)).fit(
        sparse
    )
    assert largest and max(largest) < n * d  # it did densify, in pieces
    assert pca.pca_components_.shape == (8, d)
    assert pca.embedding_.shape == (n, 2) and np.isfinite(pca.embedding_).all()
    C = pca.compute_contributions(sparse[:5])
    assert C.shape == (5, 2, d)
    np.testing.assert_allclose(
        C.sum(-1), pca.transform(sparse[:5]), atol=1e-5 * np.abs(pca.embedding_).max()
    )


def _umap_intersection(graph, y, target_weight):
    from umap.umap_ import discrete_metric_simplicial_set_intersection

    far = 2.5 * (1.0 / (1.0 - target_weight)) if target_weight < 1 else 1.0e12
    return discrete_metric_simplicial_set_intersection(graph.tocoo(), y, far_dist=far).tocsr()


@pytest.mark.parametrize("target_weight", [0.0, 0.5, 0.9, 1.0])
def test_label_intersection_matches_umap_learn(target_weight):
    rng = np.random.default_rng(0)
    n = 80
    dense = np.triu(rng.random((n, n)) * (rng.random((n, n)) < 0.1), 1)
    graph = scipy.sparse.csr_matrix((dense + dense.T).astype(np.float32))
    y = rng.integers(-1, 3, size=n)
    ours = intersect_with_labels(EdgeList.from_sparse(graph), label_codes(y, n), target_weight)
    ours = scipy.sparse.csr_matrix((ours.weight, (ours.head, ours.tail)), shape=(n, n))
    reference = _umap_intersection(graph, y, target_weight)
    assert (ours != 0).sum() == (reference != 0).sum()
    np.testing.assert_array_equal((ours != 0).toarray(), (reference != 0).toarray())
    np.testing.assert_allclose(ours.toarray(), reference.toarray(), atol=1e-6)


def test_label_codes():
    assert list(label_codes(["b", "a", "b"], 3)) == [1, 0, 1]
    assert list(label_codes(np.array([3.0, -1.0, 7.0]), 3)) == [0, -1, 1]
    assert list(label_codes([True, False, True], 3)) == [1, 0, 1]


def test_supervised_fit_separates_classes(digits):
    from sklearn.metrics import silhouette_score

    X, y = digits
    unsup = GlassBoxUMAP(random_state=0, **FAST).fit(X)
    sup = GlassBoxUMAP(random_state=0, **FAST).fit(X, y)
    assert silhouette_score(sup.embedding_, y) > silhouette_score(unsup.embedding_, y) + 0.05
    # partially labelled: -1 is unlabelled, and the fit still runs
    partial = np.where(np.arange(len(y)) % 2 == 0, y, -1)
    assert GlassBoxUMAP(random_state=0, **FAST).fit_transform(X, partial).shape == (400, 2)


def test_numpy_scalar_parameters_fit_and_save(tmp_path, digits):
    # GridSearchCV over np.arange sets np.int64: fit accepts it, so save must write it.
    X, _ = digits
    reducer = GlassBoxUMAP(
        n_neighbors=np.arange(10, 21, 10)[0],
        min_dist=np.float32(0.25),
        random_state=np.int64(0),
        **dict(FAST, epochs=2),
    ).fit(X[:100])
    reducer.save(tmp_path / "m.safetensors")
    loaded = GlassBoxUMAP.load(tmp_path / "m.safetensors")
    assert type(loaded.n_neighbors) is int and loaded.n_neighbors == 10
    assert type(loaded.min_dist) is float and loaded.min_dist == 0.25
    assert loaded.random_state == 0
    np.testing.assert_array_equal(loaded.transform(X[:5]), reducer.transform(X[:5]))


def test_random_state_takes_numpy_generators_as_scikit_learn_does(tmp_path, digits):
    X, _ = digits
    for name, make in (
        ("RandomState", lambda: np.random.RandomState(7)),
        ("Generator", lambda: np.random.default_rng(7)),
    ):
        reducer = GlassBoxUMAP(random_state=make(), **dict(FAST, epochs=1, num_batches=1))
        first = reducer.fit_transform(X[:80])
        # The same generator state gives the same fit; the reducer keeps the generator.
        again = GlassBoxUMAP(random_state=make(), **dict(FAST, epochs=1, num_batches=1))
        np.testing.assert_array_equal(again.fit_transform(X[:80]), first)
        assert isinstance(reducer.random_state, (np.random.RandomState, np.random.Generator))
        reducer.save(tmp_path / f"{name}.safetensors")
        assert GlassBoxUMAP.load(tmp_path / f"{name}.safetensors").random_state is None
    with pytest.raises(TypeError, match="random_state: expected None, an int, a numpy"):
        GlassBoxUMAP(random_state="7", **FAST).fit(X[:50])
    with pytest.raises(ValueError, match="random_state"):
        GlassBoxUMAP(random_state=-1, **FAST).fit(X[:50])
