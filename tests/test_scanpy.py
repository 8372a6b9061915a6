"""AnnData integration: where fit puts the embedding, contributions and summaries."""

import anndata
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA

from glass_box_umap import contributions_frame
from glass_box_umap import scanpy as gbu

from .conftest import FAST


@pytest.fixture()
def adata():
    X, y = make_blobs(n_samples=240, n_features=12, centers=3, random_state=0)
    ad = anndata.AnnData(
        X=X.astype(np.float32),
        obs=pd.DataFrame({"cluster": [f"k{c}" for c in y]}, index=[f"cell{i}" for i in range(240)]),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(12)]),
    )
    ad.obsm["X_pca"] = PCA(5, random_state=0).fit_transform(X).astype(np.float32)
    return ad


def test_fit_on_genes_writes_obsm_varm_uns(adata, tmp_path):
    reducer = gbu.fit(adata, groupby="cluster", random_state=0, **FAST)
    emb = adata.obsm["X_glassbox_umap"]
    C = adata.obsm["X_glassbox_umap_contributions"]
    assert emb.shape == (240, 2) and C.shape == (240, 2, 12)
    np.testing.assert_allclose(C.sum(-1), emb, atol=1e-5 * np.abs(emb).max())
    np.testing.assert_array_equal(emb, reducer.transform(adata.X))
    mean_abs = adata.varm["X_glassbox_umap_mean_abs"]
    np.testing.assert_allclose(mean_abs, np.abs(C).mean(0).T, rtol=1e-6)
    assert adata.var["X_glassbox_umap_l2_share"].sum() == pytest.approx(1.0)
    info = adata.uns["glassbox_umap"]
    assert info["feature_names"] == [f"gene{j}" for j in range(12)]
    assert set(info["groups"]["group"]) == {"k0", "k1", "k2"}
    assert len(info["groups"]["feature"]) == 3 * 12
    adata.write_h5ad(tmp_path / "a.h5ad")  # everything written is serialisable
    back = anndata.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(back.obsm["X_glassbox_umap"], emb)


def test_fit_on_representation_and_large_contributions_to_file(adata, tmp_path):
    path = tmp_path / "c.npz"
    gbu.fit(
        adata,
        use_rep="X_pca",
        contributions_path=path,
        max_obsm_values=100,
        random_state=0,
        **FAST,
    )
    assert "X_glassbox_umap_contributions" not in adata.obsm
    info = adata.uns["glassbox_umap"]
    assert info["contributions"] == str(path)
    with np.load(path) as npz:
        assert npz["contributions"].shape == (240, 2, 5)
        assert list(npz["feature_names"]) == [f"X_pca_{j}" for j in range(5)]
        assert list(npz["obs_names"][:2]) == ["cell0", "cell1"]
    assert "X_glassbox_umap_mean_abs" not in adata.varm
    assert np.shape(info["mean_abs"]) == (5, 2)


def test_scanpy_checks(adata):
    with pytest.raises(ValueError, match="use_rep: 'X_umap' is not in adata.obsm"):
        gbu.fit(adata, use_rep="X_umap")
    with pytest.raises(ValueError, match="groupby: 'leiden'"):
        gbu.fit(adata, groupby="leiden")
    with pytest.raises(ValueError, match="layer: 'counts'"):
        gbu.fit(adata, layer="counts")
    with pytest.raises(TypeError, match="adata: expected an AnnData"):
        gbu.fit(np.zeros((3, 3)))


def test_contributions_frame_is_tidy_and_sums_back():
    rng = np.random.default_rng(0)
    C = rng.normal(size=(4, 2, 3)).astype(np.float32)
    with pytest.warns(FutureWarning, match="'component' column now counts from 0"):
        frame = contributions_frame(C, ["a", "b", "c"], samples=["s0", "s1", "s2", "s3"])
    assert list(frame.columns) == ["sample", "component", "feature", "contribution"]
    assert len(frame) == 24
    # components are numbered from 0, as component= and get_feature_names_out number them
    assert sorted(frame["component"].unique()) == [0, 1]
    row = frame[(frame["sample"] == "s2") & (frame["component"] == 1) & (frame["feature"] == "b")]
    assert row["contribution"].item() == C[2, 1, 1]
    sums = frame.groupby(["sample", "component"], observed=True)["contribution"].sum()
    np.testing.assert_allclose(sums.to_numpy().reshape(4, 2), C.sum(-1), rtol=1e-6)
    with pytest.raises(ValueError, match="samples: expected 4"):
        contributions_frame(C, samples=[1, 2])
    with pytest.raises(ValueError, match="feature_names: duplicate names \\['a'\\]"):
        contributions_frame(C, ["a", "a", "c"])
