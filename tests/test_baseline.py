"""compute_contributions(X, baseline=...): exact attributions against any reference, for
every shipped encoder, and explain_difference's per-sample form built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glass_box_umap import GlassBoxUMAP, explain_difference
from glass_box_umap.model import in_dtype

from .conftest import FAST

KW = dict(FAST, epochs=2, random_state=0)


def _forward64(reducer: GlassBoxUMAP, X: np.ndarray) -> np.ndarray:
    """The map's own float64 forward pass of raw samples."""
    x = torch.as_tensor(np.asarray(X, dtype=np.float64) - reducer.mean_)
    with torch.no_grad():
        return in_dtype(reducer.map_, torch.float64)(x).numpy()


@pytest.fixture(scope="module")
def reducers(digits):
    X, _ = digits
    images = (X / 16.0).reshape(-1, 1, 8, 8)
    return {
        "default": (GlassBoxUMAP(**KW).fit(X), X),
        "default + pca": (GlassBoxUMAP(pca_components=10, **KW).fit(X), X),
        "residual": (
            GlassBoxUMAP(
                encoder_name="residual", encoder_kwargs={"hidden_size": 32, "n_blocks": 1}, **KW
            ).fit(X),
            X,
        ),
        "conv": (
            GlassBoxUMAP(
                encoder_name="conv", encoder_kwargs={"channels": [4], "hidden_size": 16}, **KW
            ).fit(images),
            images,
        ),
    }


@pytest.mark.parametrize("name", ["default", "default + pca", "residual", "conv"])
def test_contributions_against_a_sample_add_up_to_the_displacement(reducers, name):
    reducer, X = reducers[name]
    X = X[:12]
    out = _forward64(reducer, X)
    C64 = reducer.compute_contributions(X, dtype="float64", baseline=X[3])
    assert C64.shape == (12, 2, *reducer.input_shape_)
    gap = out - out[3]
    scale = np.abs(out).max()
    np.testing.assert_allclose(C64.reshape(12, 2, -1).sum(-1), gap, rtol=0, atol=1e-12 * scale)
    assert not C64[3].any()  # x == r: nothing to explain
    C32 = reducer.compute_contributions(X, baseline=X[3])
    assert C32.dtype == np.float32
    np.testing.assert_allclose(C32.reshape(12, 2, -1).sum(-1), gap, rtol=0, atol=1e-5 * scale)


def test_baseline_forms(reducers):
    reducer, X = reducers["default"]
    X = X[:8]
    ordinary = reducer.compute_contributions(X, dtype="float64")
    np.testing.assert_array_equal(
        reducer.compute_contributions(X, dtype="float64", baseline="mean"), ordinary
    )
    # the training mean as an array: a ray from the origin, the same numbers
    np.testing.assert_allclose(
        reducer.compute_contributions(X, dtype="float64", baseline=reducer.mean_),
        ordinary,
        rtol=0,
        atol=1e-12 * np.abs(ordinary).max(),
    )
    # one reference per sample
    per_sample = reducer.compute_contributions(X, dtype="float64", baseline=X[::-1])
    out = _forward64(reducer, X)
    np.testing.assert_allclose(per_sample.sum(-1), out - out[::-1], atol=1e-12 * np.abs(out).max())
    # a feature equal in x and r gets exactly nothing
    r = X[0].copy()
    r[:32] = X[1, :32]
    C = reducer.compute_contributions(X[1:2], dtype="float64", baseline=r)
    assert not C[0, :, :32].any() and C[0, :, 32:].any()
    assert reducer.compute_contributions(X, baseline=X[0], reduction="l2").shape == (8, 64)
    with pytest.raises(ValueError, match=r"baseline: expected shape \(64,\)"):
        reducer.compute_contributions(X, baseline=X[:3])
    with pytest.raises(ValueError, match="baseline: expected None, 'mean' or an array"):
        reducer.compute_contributions(X, baseline="median")
    with pytest.raises(ValueError, match="baseline: contains NaN"):
        reducer.compute_contributions(X, baseline=np.full(64, np.nan))


def test_explain_difference_per_sample_is_exact_with_path_contributions(reducers):
    reducer, X = reducers["default"]
    X = X[:20].astype(np.float64)
    C = reducer.compute_contributions(X, dtype="float64", baseline=X[4])
    out = _forward64(reducer, X)
    table = explain_difference(C, out - out[4], 7, 4)
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-10)
    assert table.attrs["gap"] == pytest.approx(np.linalg.norm(out[7] - out[4]), rel=1e-12)
    assert (table["position_b"] == 0).all()  # the reference explains nothing of itself
    # with contributions relative to the mean, the shares still sum to 1
    ordinary = reducer.compute_contributions(X, dtype="float64")
    assert explain_difference(ordinary, out, 7, 4)["share"].sum() == pytest.approx(1.0, abs=1e-10)
