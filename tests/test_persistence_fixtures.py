"""Model files written by an earlier version (tests/data, made at commit 9c1d844) still load.

The files were written once by ``tests/data/make_fixtures.py``; they are not regenerated,
so that a change to the saved format or to how a loaded model computes shows up here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glass_box_umap import GlassBoxUMAP

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def expected():
    with np.load(DATA / "expected.npz") as f:
        return dict(f)


def test_format1_flat_model_with_feature_names_loads_and_computes_as_saved(expected):
    import pandas as pd
    from sklearn.datasets import load_wine

    model = GlassBoxUMAP.load(DATA / "format1_wine.safetensors")
    names = list(load_wine(as_frame=True).data.columns)
    assert list(model.feature_names_in_) == names
    assert model.input_shape_ == (13,) and model.n_features_in_ == 13
    assert model.pca_components_ is None
    assert model.get_params()["encoder_kwargs"] == {"hidden_size": 16, "n_hidden_layers": 2}
    assert len(model.history_["loss"]) == 3
    X = pd.DataFrame(expected["X"], columns=names)
    np.testing.assert_allclose(model.transform(X), expected["flat_embedding"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        model.compute_contributions(X, dtype="float64"),
        expected["flat_contributions"],
        rtol=1e-12,
        atol=1e-12,
    )


def test_format1_pca_residual_model_loads_and_computes_as_saved(expected):
    model = GlassBoxUMAP.load(DATA / "format1_wine_pca_residual.safetensors")
    assert model.pca_components_.shape == (5, 13)
    assert model.encoder_name == "residual"
    X = expected["X"]
    np.testing.assert_allclose(model.transform(X), expected["pca_embedding"], rtol=1e-6, atol=1e-6)
    contributions = model.compute_contributions(X, dtype="float64")
    np.testing.assert_allclose(contributions, expected["pca_contributions"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(contributions.sum(-1), model.transform(X), rtol=1e-5, atol=1e-5)


def test_format2_image_model_loads_and_computes_as_saved(expected):
    model = GlassBoxUMAP.load(DATA / "format2_digits_conv.safetensors")
    assert model.input_shape_ == (1, 8, 8)
    images = expected["images"]
    np.testing.assert_allclose(
        model.transform(images), expected["conv_embedding"], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        model.compute_contributions(images, dtype="float64"),
        expected["conv_contributions"],
        rtol=1e-12,
        atol=1e-12,
    )
