"""
.. _workflows:

Workflows
=========

Reusing a neighbour graph across a parameter sweep, embedding a graph built elsewhere,
continuing training with old points held in place, supervised fits, and the scikit-learn,
pandas and AnnData integrations.
"""

# %%
# Reuse a neighbour graph
# -----------------------
# Neighbours computed once serve a whole sweep: ``precomputed_knn=(indices, distances)``
# takes umap-learn's arrays (each row starts with the sample itself, at distance 0;
# sklearn's rounding of about 1e-7 there is read as 0). Wider tables are cut to
# ``n_neighbors``, narrower ones refused. Given the neighbours the fit's own search finds,
# a fit with the same seed is bit-identical to it (tested). Here: wine, one exact search,
# three values of ``min_dist``.
import matplotlib.pyplot as plt
import numpy as np
from _docs_settings import QUICK, epochs
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from glass_box_umap import GlassBoxUMAP
from glass_box_umap.nearest_neighbors import exact_knn

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X).astype(np.float32)
indices, distances = exact_knn(X, 15)  # or umap-learn's, pynndescent's
fig, axes = plt.subplots(1, 3, figsize=(10, 3.3), constrained_layout=True)
for ax, min_dist in zip(axes, (0.05, 0.1, 0.3)):  # three fits, one neighbour search
    reducer = GlassBoxUMAP(
        min_dist=min_dist, precomputed_knn=(indices, distances), random_state=0, quiet=True,
        epochs=epochs(),
    )
    emb = reducer.fit_transform(X)
    ax.scatter(emb[:, 0], emb[:, 1], c=y, cmap="tab10", s=6)
    ax.set(title=f"min_dist={min_dist}", xticks=[], yticks=[])
plt.show()

# %%
# umap-learn's graph knobs keep their meanings (``metric`` with ``metric_kwds``,
# ``spread``, ``local_connectivity``, ``set_op_mix_ratio``, ``disconnection_distance``); the
# graph equals umap-learn's ``fuzzy_simplicial_set`` on the same neighbours to 1e-6, for
# non-default ``local_connectivity``, ``set_op_mix_ratio`` and ``disconnection_distance``
# too (``tests/test_graph_knobs.py``), and ``a, b`` come from ``spread`` and ``min_dist`` as
# umap-learn fits them (``a_``, ``b_``). One difference, on purpose: neighbours that
# ``disconnection_distance`` removes are left out of the kernel widths, as umap-learn's fix
# for its issue #1286 does; umap-learn 0.5.12 still gives every edge of such a point
# weight 1.
reducer = GlassBoxUMAP(
    metric="minkowski", metric_kwds={"p": 3}, spread=2.0, min_dist=0.5,
    local_connectivity=2.0, set_op_mix_ratio=0.5, random_state=0, quiet=True,
    epochs=epochs(),
).fit(X)
print(f"a = {reducer.a_:.3f}, b = {reducer.b_:.3f}")

# %%
# ``metric="precomputed"`` reads the graph off a square distance matrix (dense, or sparse
# with missing entries as non-neighbours); its rows are also the encoder's features, so
# ``transform`` takes new samples' distances to the training samples. ``fit(X, graph=G)``
# embeds a fuzzy graph built elsewhere (symmetric weights in [0, 1]), for instance the graph
# scanpy's Leiden clusters came from (``adata.obsp["connectivities"]``), while the encoder
# reads ``X``.
from scipy.spatial.distance import cdist

D = cdist(X, X)
on_distances = GlassBoxUMAP(metric="precomputed", random_state=0, quiet=True, epochs=epochs())
print(on_distances.fit_transform(D).shape, on_distances.transform(D[:5]).shape)
from umap.umap_ import fuzzy_simplicial_set

G, _, _ = fuzzy_simplicial_set(X, 15, 0, "euclidean")  # umap-learn's graph, a sparse matrix
on_graph = GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs()).fit(X, graph=G)
print(type(G).__name__, G.shape, on_graph.embedding_.shape)

# %%
# Continue training, keep the layout where it was
# ------------------------------------------------
# ``warm_start=True`` makes ``fit`` continue from the fitted encoder (keeping its centring
# and PCA axes, so that the encoder continues the same function); it refuses data with
# other features or names. ``landmark_positions`` (shape ``(n_samples, n_components)``, NaN
# rows for free samples) adds ``landmark_weight`` times the landmarks' mean squared
# distance to their positions to the loss. Refit on a new release of the data with the old
# samples pinned, and their explanations stay comparable. Digits: the first 998 images
# (five ninths of them; fewer in quick builds) first, then all of them.
digits_X, digits_y = load_digits(return_X_y=True)
if QUICK:
    digits_X, digits_y = digits_X[:600], digits_y[:600]
n_old = len(digits_X) * 5 // 9
X_old, X_new = digits_X[:n_old], digits_X[n_old:]
old = GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs()).fit(X_old)
before = old.embedding_.copy()
positions = np.full((len(X_old) + len(X_new), 2), np.nan)
positions[: len(X_old)] = old.embedding_
old.set_params(warm_start=True).fit(np.vstack([X_old, X_new]), landmark_positions=positions)
plain = GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs()).fit(X_old)
plain.set_params(warm_start=True).fit(np.vstack([X_old, X_new]))
spread = np.ptp(before, axis=0).max()
for label, model in [("warm_start + landmarks", old), ("warm_start only", plain)]:
    moved = np.linalg.norm(model.embedding_[: len(X_old)] - before, axis=1)
    print(f"{label}: old points moved by {np.median(moved) / spread:.3f} of the spread (median)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
for ax, emb, title in [
    (axes[0], before, f"first fit, {len(X_old)} images"),
    (axes[1], old.embedding_, "refit on all, old points pinned"),
]:
    ax.scatter(emb[:, 0], emb[:, 1], c=digits_y[: len(emb)], cmap="tab10", s=3)
    ax.set(title=title, xticks=[], yticks=[])
plt.show()

# %%
# ``python benchmarks/update.py`` measures the same on all of digits (1,000 rows, then all
# 1,797), against the same continuation without landmarks and against a fresh fit. Its
# recorded run (2-core CPU, defaults, ``landmark_weight=1.0``, 2026-12-04; the first fit
# took 26.1 s, the three refits 31.8, 31.0 and 24.4 s):
#
# .. list-table:: update.py, refit on all 1,797 digits
#    :header-rows: 1
#
#    * - refit
#      - old points moved (median, x spread)
#      - trust, new points
#      - trust, all
#      - new among old, 10-NN acc
#    * - ``warm_start`` + landmarks
#      - 0.012
#      - 0.958
#      - 0.968
#      - 0.965
#    * - ``warm_start`` only
#      - 0.208
#      - 0.962
#      - 0.974
#      - 0.967
#    * - fresh fit (``random_state=1``)
#      - 1.561
#      - 0.960
#      - 0.975
#      - 0.966
#
# The landmarks hold the old points 17 times closer than a plain continuation, for about
# 0.004 of trustworthiness on the new points.
#
# Supervised fits
# ---------------
# ``fit(X, y)`` is supervised UMAP with class labels (``-1`` = unlabelled), weighted by
# ``target_weight`` exactly as umap-learn's categorical target.
supervised = GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs()).fit(digits_X, digits_y)
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(*supervised.embedding_.T, c=digits_y, cmap="tab10", s=3)
ax.set(title="digits, fit(X, y)", xticks=[], yticks=[])
plt.show()

# %%
# scikit-learn, pandas, AnnData, sparse data
# ------------------------------------------
# :class:`~glass_box_umap.GlassBoxUMAP` passes scikit-learn's ``check_estimator`` (two
# checks skipped, with reasons, in ``tests/test_sklearn.py``) and works in ``Pipeline`` and
# ``GridSearchCV``; ``get_feature_names_out()`` names the axes.
from sklearn.pipeline import make_pipeline

pipe = make_pipeline(StandardScaler(), GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs()))
print(pipe.fit_transform(load_wine().data).shape, pipe[-1].get_feature_names_out())

# %%
# * DataFrames: column names are remembered (``feature_names_in_``), checked at
#   ``transform`` and saved with the model. pandas' nullable ``Int64``/``Float64`` columns
#   are numbers, boolean ones 0 and 1; a missing value (``NaN``, ``pd.NA``) is an error
#   naming its row and column, and categorical, string or datetime columns are refused by
#   name (encode them, or drop them).
# * SciPy sparse matrices are accepted; inference densifies one batch at a time, and with
#   ``pca_components`` the training data is never densified whole (without it, training
#   holds the float32 inputs, ``n x n_features``).
# * AnnData (the ``io`` extra)::
#
#       from glass_box_umap import scanpy as gbu
#       gbu.fit(adata, use_rep="X_pca", groupby="leiden")
#       gbu.fit(adata, use_rep="X_pca", neighbors_key="neighbors")  # sc.pp.neighbors' graph
#       gbu.transform(adata_query, model)  # genes matched by name
#
#   ``fit`` writes ``obsm["X_glassbox_umap"]``, the contributions (in ``obsm``, or, above
#   ``max_obsm_values`` numbers, a float32 ``.npy`` file written 4,096 cells at a time,
#   whose path is in ``uns``: read it with ``np.load(path, mmap_mode="r")``), per-gene
#   summaries in ``varm``/``var`` and group tables in ``uns``. With ``neighbors_key`` it
#   embeds the graph ``sc.pp.neighbors`` built (the one the Leiden clusters came from), and
#   warns when that graph was built on another representation than the encoder reads.
#   ``gbu.transform`` maps a query onto a fitted (or saved) model, genes matched by name.
#   A sparse ``adata.X`` is never densified whole: 100,000 cells x 2,000 genes (sparse,
#   ``pca_components=50``, 20 epochs, contributions to disk, then a 20,000-cell query)
#   peaked at 2.09 GB resident (a recorded run of
#   ``nice python benchmarks/scanpy_memory.py --tracemalloc`` on 2 CPU cores).
#   Backed AnnData (``read_h5ad(path, backed="r")``) works with both: ``gbu.transform``
#   reads its sparse ``X`` 4,096 rows at a time, ``gbu.fit`` reads it into a sparse matrix
#   in such chunks (a fit needs every row); the estimator itself refuses a backed matrix,
#   naming ``X.to_memory()``.
