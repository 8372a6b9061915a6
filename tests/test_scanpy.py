"""AnnData integration: where fit and transform put the embedding, contributions and
summaries; scanpy's neighbour graph embedded as it is; sparse X never densified whole.

scanpy is not a dependency: the ``uns``/``obsp`` entries ``sc.pp.neighbors`` writes are
built by hand (:func:`scanpy_neighbors`).
"""

import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

import glass_box_umap._validation as validation_module
import glass_box_umap.model as model_module
from glass_box_umap import GlassBoxUMAP, contributions_frame
from glass_box_umap import scanpy as gbu
from glass_box_umap.affinity import fuzzy_simplicial_set
from glass_box_umap.explain import explain_groups

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


def counts_adata(n_obs: int = 300, n_vars: int = 40, seed: int = 0) -> anndata.AnnData:
    """Sparse log1p counts of 3 cell types (about a third of the entries non-zero)."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, 3, n_obs)
    rates = rng.gamma(0.3, 1.5, size=(3, n_vars))
    counts = rng.poisson(rates[types]).astype(np.float32)
    ad = anndata.AnnData(
        X=scipy.sparse.csr_matrix(np.log1p(counts)),
        obs=pd.DataFrame(
            {"cell_type": [f"t{t}" for t in types]}, index=[f"c{i}" for i in range(n_obs)]
        ),
        var=pd.DataFrame(index=[f"g{j}" for j in range(n_vars)]),
    )
    return ad


def scanpy_neighbors(
    ad: anndata.AnnData,
    use_rep: str | None = "X_pca",
    n_neighbors: int = 10,
    key_added: str | None = None,
    n_pcs: int | None = None,
) -> scipy.sparse.csr_matrix:
    """What ``sc.pp.neighbors(ad, n_neighbors, n_pcs, use_rep=..., key_added=...)`` writes.

    Exact neighbours and UMAP's fuzzy union (as scanpy's ``method='umap'``), stored under
    scanpy's keys: ``uns[key]`` with ``connectivities_key``, ``distances_key`` and
    ``params`` (``use_rep``/``n_pcs`` only when given, as scanpy does), and
    ``obsp['connectivities']`` (``obsp[key + '_connectivities']`` with ``key_added``).
    """
    rep = use_rep or "X"
    X = ad.X if rep == "X" else ad.obsm[rep]
    X = X.toarray() if scipy.sparse.issparse(X) else np.asarray(X)
    X = X[:, :n_pcs] if n_pcs is not None else X
    dist, idx = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(X)
    connectivities = fuzzy_simplicial_set(idx, dist)
    n = X.shape[0]
    distances = scipy.sparse.csr_matrix(
        (
            dist[:, 1:].ravel(),
            idx[:, 1:].ravel(),
            np.arange(0, n * (n_neighbors - 1) + 1, n_neighbors - 1),
        ),
        shape=(n, n),
    )
    key = key_added or "neighbors"
    prefix = "" if key_added is None else f"{key_added}_"
    params = {"n_neighbors": n_neighbors, "method": "umap", "random_state": 0}
    params["metric"] = "euclidean"
    if use_rep is not None:
        params["use_rep"] = use_rep
    if n_pcs is not None:
        params["n_pcs"] = n_pcs
    ad.uns[key] = {
        "connectivities_key": f"{prefix}connectivities",
        "distances_key": f"{prefix}distances",
        "params": params,
    }
    ad.obsp[f"{prefix}connectivities"] = connectivities
    ad.obsp[f"{prefix}distances"] = distances
    return connectivities


def edges_as_matrix(reducer: GlassBoxUMAP) -> scipy.sparse.csr_matrix:
    g = reducer.graph_
    return scipy.sparse.csr_matrix((g.weight, (g.head, g.tail)), shape=(g.n_vertices, g.n_vertices))


# ---------------------------------------------------------------- fit: where things go
def test_fit_on_genes_writes_obsm_varm_uns(adata, tmp_path):
    reducer = gbu.fit(adata, groupby="cluster", random_state=0, **FAST)
    emb = adata.obsm["X_glassbox_umap"]
    C = adata.obsm["X_glassbox_umap_contributions"]
    assert emb.shape == (240, 2) and C.shape == (240, 2, 12)
    np.testing.assert_allclose(C.sum(-1), emb, atol=1e-5 * np.abs(emb).max())
    np.testing.assert_array_equal(emb, reducer.transform(adata.X))
    np.testing.assert_array_equal(C, reducer.compute_contributions(adata.X))
    assert list(reducer.feature_names_in_) == [f"gene{j}" for j in range(12)]
    mean_abs = adata.varm["X_glassbox_umap_mean_abs"]
    np.testing.assert_allclose(mean_abs, np.abs(C).mean(0).T, rtol=1e-6)
    assert adata.var["X_glassbox_umap_l2_share"].sum() == pytest.approx(1.0)
    info = adata.uns["glassbox_umap"]
    assert info["feature_names"] == [f"gene{j}" for j in range(12)]
    assert info["contributions"] == "obsm/X_glassbox_umap_contributions"
    assert "graph" not in info
    assert set(info["groups"]["group"]) == {"k0", "k1", "k2"}
    assert len(info["groups"]["feature"]) == 3 * 12
    adata.write_h5ad(tmp_path / "a.h5ad")  # everything written is serialisable
    back = anndata.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(back.obsm["X_glassbox_umap"], emb)


def test_large_contributions_go_to_npy_in_chunks(adata, tmp_path):
    """Above max_obsm_values, contributions are written 7 cells at a time to a .npy that
    equals compute_contributions; the summaries and the groups table, accumulated over
    chunks, equal those of the whole array."""
    path = tmp_path / "sub" / "c.npy"
    reducer = gbu.fit(
        adata,
        use_rep="X_pca",
        groupby="cluster",
        contributions_path=path,
        max_obsm_values=100,
        chunk_rows=7,
        random_state=0,
        **FAST,
    )
    assert "X_glassbox_umap_contributions" not in adata.obsm
    info = adata.uns["glassbox_umap"]
    assert info["contributions"] == str(path)
    assert not path.with_name("c.npy.partial").exists()
    C = np.load(path, mmap_mode="r")
    assert C.shape == (240, 2, 5) and C.dtype == np.float32
    expected = reducer.compute_contributions(adata.obsm["X_pca"])
    # Chunks of 7 rows and one batch of 240 take the Jacobian's products in other BLAS
    # kernels since the input scale joined the map: equal to float32 rounding.
    np.testing.assert_allclose(np.asarray(C), expected, rtol=1e-5, atol=1e-6)
    assert info["feature_names"] == [f"X_pca_{j}" for j in range(5)]
    assert "X_glassbox_umap_mean_abs" not in adata.varm
    np.testing.assert_allclose(info["mean_abs"], np.abs(expected).mean(0).T, rtol=1e-6)
    table = explain_groups(expected, adata.obs["cluster"].astype(str), info["feature_names"])
    assert list(info["groups"]) == list(table.columns)
    for column in table.columns:
        got, want = info["groups"][column], table[column].to_numpy()
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=column)
        else:
            np.testing.assert_array_equal(got, want, err_msg=column)


def test_scanpy_checks(adata, tmp_path):
    with pytest.raises(ValueError, match="use_rep: 'X_umap' is not in adata.obsm"):
        gbu.fit(adata, use_rep="X_umap")
    with pytest.raises(ValueError, match="groupby: 'leiden'"):
        gbu.fit(adata, groupby="leiden")
    with pytest.raises(ValueError, match="groupby: .*contributions=False"):
        gbu.fit(adata, groupby="cluster", contributions=False)
    with pytest.raises(ValueError, match="layer: 'counts'"):
        gbu.fit(adata, layer="counts")
    with pytest.raises(TypeError, match="adata: expected an AnnData"):
        gbu.fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="contributions_path: .*c.npz' must end in .npy"):
        gbu.fit(adata, contributions_path=tmp_path / "c.npz")
    with pytest.raises(ValueError, match="chunk_rows: expected a positive integer, got 0"):
        gbu.fit(adata, chunk_rows=0)
    with pytest.raises(ValueError, match="max_obsm_values: expected a positive integer"):
        gbu.fit(adata, max_obsm_values=-1)
    dup = adata.copy()
    dup.var_names = ["g"] * 12
    with pytest.raises(ValueError, match="groupby: .* unique feature names.*'g'"):
        gbu.fit(dup, groupby="cluster")


# ---------------------------------------------------------------- scanpy's graph
@pytest.mark.parametrize("key_added", [None, "pca10"])
def test_scanpy_graph_is_the_one_embedded(adata, key_added):
    """The fit embeds obsp[uns[key]['connectivities_key']] exactly as the estimator embeds
    that graph given as ``graph=``: same edges, bit-identical embedding at one seed."""
    # 10 neighbours: not the graph the reducer would build itself (15)
    G = scanpy_neighbors(adata, "X_pca", n_neighbors=10, key_added=key_added)
    key = key_added or "neighbors"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reducer = gbu.fit(
            adata, use_rep="X_pca", neighbors_key=key, contributions=False, random_state=0, **FAST
        )
    assert not [w for w in caught if "neighbors_key" in str(w.message)]
    assert abs(edges_as_matrix(reducer) - G).max() < 1e-7
    # the graph the reducer would have built (15 neighbours) is another one
    dist, idx = NearestNeighbors(n_neighbors=15).fit(adata.obsm["X_pca"]).kneighbors()
    own = fuzzy_simplicial_set(
        np.hstack([np.arange(240)[:, None], idx]), np.hstack([np.zeros((240, 1)), dist])
    )
    assert abs(own - G).max() > 0.1
    if key_added is None:
        reference = GlassBoxUMAP(random_state=0, **FAST).fit(adata.obsm["X_pca"], graph=G)
        np.testing.assert_array_equal(adata.obsm["X_glassbox_umap"], reference.embedding_)
    graph = adata.uns["glassbox_umap"]["graph"]
    prefix = "" if key_added is None else f"{key_added}_"
    assert graph == {
        "neighbors_key": key,
        "connectivities_key": f"{prefix}connectivities",
        "use_rep": "X_pca",
        "n_neighbors": 10,
        "method": "umap",
        "metric": "euclidean",
    }


def test_graph_on_another_representation_is_told(adata, tmp_path):
    """The encoder reads what the user asked for; a warning names the graph's space."""
    scanpy_neighbors(adata, "X_pca")
    with pytest.warns(
        UserWarning,
        match=r"neighbors_key: scanpy built the graph adata.obsp\['connectivities'\] on "
        r"obsm\['X_pca'\], and the encoder reads X: .* pass use_rep='X_pca'",
    ):
        reducer = gbu.fit(
            adata, neighbors_key="neighbors", contributions=False, random_state=0, **FAST
        )
    assert reducer.n_features_in_ == 12  # the genes, not the 5 PCs
    assert adata.uns["glassbox_umap"]["graph"]["use_rep"] == "X_pca"
    adata.write_h5ad(tmp_path / "a.h5ad")  # the graph record is serialisable

    # the same obsm key, but scanpy's graph used only its first 3 columns
    scanpy_neighbors(adata, "X_pca", n_pcs=3)
    with pytest.warns(UserWarning, match=r"on obsm\['X_pca'\]\[:, :3\], .*first 3 columns"):
        gbu.fit(adata, use_rep="X_pca", neighbors_key="neighbors", contributions=False, **FAST)
    assert adata.uns["glassbox_umap"]["graph"]["n_pcs"] == 3

    # no use_rep in scanpy's params: with 12 < 50 variables scanpy used X, as we do
    scanpy_neighbors(adata, use_rep=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gbu.fit(adata, neighbors_key="neighbors", contributions=False, random_state=0, **FAST)
    assert not [w for w in caught if "neighbors_key" in str(w.message)]
    graph = adata.uns["glassbox_umap"]["graph"]
    assert graph["use_rep"] == "X" and graph["use_rep_chosen_by_scanpy"]
    adata.write_h5ad(tmp_path / "b.h5ad")


def test_bad_neighbors_key(adata):
    with pytest.raises(ValueError, match=r"neighbors_key: 'neighbors' is not in adata.uns; run sc"):
        gbu.fit(adata, neighbors_key="neighbors")
    with pytest.raises(TypeError, match="neighbors_key: expected a str"):
        gbu.fit(adata, neighbors_key=1)
    scanpy_neighbors(adata, key_added="pca")
    with pytest.raises(
        ValueError, match=r"neighbors_key: 'neighbors' .*graphs in adata.uns: \['pca'"
    ):
        gbu.fit(adata, neighbors_key="neighbors")
    del adata.obsp["pca_connectivities"]
    with pytest.raises(
        ValueError, match=r"neighbors_key: .*adata.obsp\['pca_connectivities'\], which is missing"
    ):
        gbu.fit(adata, neighbors_key="pca")
    adata.uns["neighbors"] = "not a dict"
    with pytest.raises(ValueError, match="neighbors_key: adata.uns\\['neighbors'\\] is a str"):
        gbu.fit(adata, neighbors_key="neighbors")
    G = scanpy_neighbors(adata)
    adata.obsp["connectivities"] = scipy.sparse.triu(G, format="csr")  # not symmetric
    with pytest.raises(ValueError, match=r"neighbors_key: adata.obsp\['connectivities'\]: must be"):
        gbu.fit(adata, neighbors_key="neighbors")
    adata.obsp["connectivities"] = G * 2  # weights above 1
    with pytest.raises(
        ValueError, match=r"neighbors_key: .*weights must be finite and in \[0, 1\]"
    ):
        gbu.fit(adata, neighbors_key="neighbors")


# ---------------------------------------------------------------- transform: reference mapping
def test_transform_maps_a_query_like_model_transform(tmp_path):
    ref = counts_adata(seed=0)
    reducer = gbu.fit(ref, groupby="cell_type", random_state=0, **FAST)
    query = counts_adata(n_obs=120, seed=1)
    query.obs_names = [f"q{i}" for i in range(120)]
    # the query's genes in another order, with two genes the model never saw
    order = np.random.default_rng(2).permutation(40)
    extra = anndata.AnnData(
        X=scipy.sparse.random(120, 2, density=0.5, random_state=3, format="csr", dtype=np.float32),
        obs=pd.DataFrame(index=query.obs_names),
        var=pd.DataFrame(index=["new1", "new2"]),
    )
    shuffled = anndata.concat([query[:, order], extra], axis=1, merge="first")
    shuffled.obs = query.obs.copy()

    emb = gbu.transform(shuffled, reducer, groupby="cell_type")
    np.testing.assert_array_equal(emb, reducer.transform(query.X))
    np.testing.assert_array_equal(shuffled.obsm["X_glassbox_umap"], emb)
    C = shuffled.obsm["X_glassbox_umap_contributions"]
    np.testing.assert_array_equal(C, reducer.compute_contributions(query.X))
    info = shuffled.uns["glassbox_umap"]
    assert info["method"] == "transform" and info["n_query_features_ignored"] == 2
    assert info["feature_names"] == list(ref.var_names)
    # per-gene summaries in the query's gene order; genes the model lacks are NaN
    mean_abs = shuffled.varm["X_glassbox_umap_mean_abs"]
    np.testing.assert_allclose(mean_abs[:40], np.abs(C).mean(0).T[order], rtol=1e-6)
    assert np.isnan(mean_abs[40:]).all()
    share = shuffled.var["X_glassbox_umap_l2_share"]
    assert share.iloc[:40].sum() == pytest.approx(1.0) and share.iloc[40:].isna().all()
    assert set(info["groups"]["group"]) == {"t0", "t1", "t2"}

    # a saved model, contributions to a file in chunks
    reducer.save(tmp_path / "m.safetensors")
    path = tmp_path / "q.npy"
    emb2 = gbu.transform(
        query,
        tmp_path / "m.safetensors",
        key_added="X_ref",
        contributions_path=path,
        max_obsm_values=1,
        chunk_rows=11,
    )
    np.testing.assert_array_equal(emb2, emb)
    np.testing.assert_array_equal(query.obsm["X_ref"], emb)
    np.testing.assert_array_equal(np.load(path), C)
    assert query.uns["glassbox_umap"]["contributions"] == str(path)
    np.testing.assert_allclose(query.varm["X_ref_mean_abs"], np.abs(C).mean(0).T, rtol=1e-6)


def test_transform_checks(adata):
    reducer = gbu.fit(adata, contributions=False, random_state=0, **FAST)
    missing = adata[:, 2:].copy()
    with pytest.raises(ValueError, match=r"adata_query: 2 of the model's 12 features are not in "):
        gbu.transform(missing, reducer)
    with pytest.raises(ValueError, match="adata_query: 12 of the model's 12 .*columns of obsm"):
        gbu.transform(adata, reducer, use_rep="X_pca")
    with pytest.raises(ValueError, match="use_rep: 'X_scvi' is not in adata_query.obsm"):
        gbu.transform(adata, reducer, use_rep="X_scvi")
    with pytest.raises(TypeError, match="model: expected a fitted GlassBoxUMAP"):
        gbu.transform(adata, object())
    with pytest.raises(ValueError, match="model: not fitted yet"):
        gbu.transform(adata, GlassBoxUMAP())
    with pytest.raises(TypeError, match="adata_query: expected an AnnData"):
        gbu.transform(adata.X, reducer)
    unnamed = GlassBoxUMAP(random_state=0, **FAST).fit(adata.obsm["X_pca"])
    with pytest.raises(ValueError, match="adata_query: X has 12 features, the model expects 5"):
        gbu.transform(adata, unnamed)
    emb = gbu.transform(adata, unnamed, use_rep="X_pca", contributions=False)  # by position
    np.testing.assert_array_equal(emb, unnamed.transform(adata.obsm["X_pca"]))


# ---------------------------------------------------------------- memory
def test_sparse_X_is_never_densified_whole(monkeypatch, tmp_path):
    """Every densification of a sparse matrix, in the estimator and here, is of a slice
    of rows: none holds as many values as X. (The estimator's distinct-rows check, which
    densifies data of up to 10M values on purpose, and its 16,384-row chunks are turned
    down so that 300 cells show what 100,000 would.)"""
    ad = counts_adata()
    n_obs, n_vars = ad.shape
    shapes: list[tuple[int, int]] = []
    for cls in (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix):
        original = cls.toarray

        def recording(self, *args, _original=original, **kwargs):
            shapes.append(self.shape)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "toarray", recording)
    ad.X.toarray()
    assert shapes.pop() == (n_obs, n_vars)  # the recorder sees a whole densification
    monkeypatch.setattr(validation_module, "DISTINCT_CHECK_MAX_VALUES", 0)
    monkeypatch.setattr(model_module, "DENSE_CHUNK", 64)

    params = dict(FAST, batch_size=64)
    reducer = gbu.fit(
        ad,
        groupby="cell_type",
        pca_components=5,
        max_obsm_values=1,
        chunk_rows=50,
        contributions_path=tmp_path / "c.npy",
        random_state=0,
        **params,
    )
    gbu.transform(ad, reducer, key_added="X_q", chunk_rows=50)
    assert max(rows * cols for rows, cols in shapes) <= 64 * n_vars < n_obs * n_vars
    assert sum(rows for rows, cols in shapes if cols == n_vars) >= 3 * n_obs  # it did read X
    assert scipy.sparse.issparse(ad.X)
    C = np.load(tmp_path / "c.npy")
    np.testing.assert_array_equal(ad.obsm["X_q_contributions"], C)


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


def test_backed_sparse_anndata_is_read_in_chunks(tmp_path):
    # read_h5ad(backed="r") with CSR X got "object array holds values that are not real
    # numbers" (issue 22, item 8).
    ad = counts_adata(n_obs=150, n_vars=20)
    ad.write_h5ad(tmp_path / "ref.h5ad")
    params = dict(n_neighbors=5, random_state=0, **dict(FAST, epochs=2, num_batches=2))
    memory = gbu.fit(anndata.read_h5ad(tmp_path / "ref.h5ad"), chunk_rows=64, **params)
    backed = anndata.read_h5ad(tmp_path / "ref.h5ad", backed="r")
    assert type(backed.X).__module__.startswith("anndata")  # a dataset, not a matrix
    reducer = gbu.fit(backed, chunk_rows=64, **params)
    np.testing.assert_array_equal(reducer.embedding_, memory.embedding_)
    np.testing.assert_array_equal(backed.obsm["X_glassbox_umap"], memory.embedding_)
    # A query with its genes in another order, mapped from the file 64 rows at a time.
    query = ad[:, ad.var_names[::-1]].copy()
    query.write_h5ad(tmp_path / "query.h5ad")
    on_disk = anndata.read_h5ad(tmp_path / "query.h5ad", backed="r")
    embedding = gbu.transform(on_disk, memory, chunk_rows=64)
    np.testing.assert_array_equal(embedding, memory.transform(ad.X))
    np.testing.assert_allclose(
        on_disk.obsm["X_glassbox_umap_contributions"],
        memory.compute_contributions(ad.X),
        rtol=0,
        atol=1e-6,
    )
    # The estimator itself takes arrays: a backed matrix is refused, saying what to do.
    with pytest.raises(TypeError, match=r"X: a backed AnnData matrix .* X.to_memory\(\)"):
        GlassBoxUMAP(**params).fit(backed.X)
    with pytest.raises(TypeError, match="X: a backed AnnData matrix"):
        memory.transform(on_disk.X)
