"""
.. _getting-started:

Getting started
===============

Install the package, fit a first embedding, read its contributions, save the model.

Installing
----------
From a clone of the repository, two commands set everything up (a ``.venv`` with the CPU
build of PyTorch, the package and its test tools) and check it::

    make install
    make test

``make test`` installs first if needed and skips the slow tests; ``make test-all`` runs
them too. ``make demo`` (which also installs first if needed) runs
``glass-box-umap demo --out demo_output``: it fits sklearn's digits at the defaults, writes
``embedding.csv``, ``contributions.npy``, ``model.safetensors`` and ``embedding.png`` into
``demo_output/``, and prints where the files went and how long the fit took. ``make docs``
builds this site into ``docs/_build/html``.

The Makefile installs ``torch==2.13.0``, which on this project's machines is a CPU wheel;
elsewhere ``make install TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu``
gets the CPU build instead of a multi-GB CUDA one. ``pip install -e ".[io,shap]"`` in an
environment of your own installs the package and its optional extras (``io``: parquet and
AnnData files; ``shap``: SHAP's plots; ``faiss``: FAISS neighbour search). A GPU is used
automatically when PyTorch sees one.

The first fit
-------------
sklearn's digits: 1,797 images of 8 x 8 pixels, as 64 features. Every parameter of
:class:`~glass_box_umap.GlassBoxUMAP` is a keyword of the constructor and an attribute of
the same name.
"""

import time

import numpy as np
from _docs_settings import QUICK, epochs
from sklearn.datasets import load_digits

from glass_box_umap import GlassBoxUMAP

X, y = load_digits(return_X_y=True)
if QUICK:
    X, y = X[:500], y[:500]
reducer = GlassBoxUMAP(n_neighbors=15, random_state=0, quiet=True, epochs=epochs())
start = time.perf_counter()
emb = reducer.fit_transform(X)
print(f"embedding {emb.shape}, {emb.dtype}; fit in {time.perf_counter() - start:.1f} s")

# %%
# The embedding, coloured by digit (:func:`glass_box_umap.plotting.plot_embedding` returns
# its Figure):
from glass_box_umap.plotting import plot_embedding

fig = plot_embedding(emb, y, title="digits, GlassBoxUMAP defaults")

# %%
# What the contributions mean
# ---------------------------
# The inputs are centred on the training mean before the encoder, and the encoder is a
# bias-free piecewise-linear network, so it maps the mean sample to the origin and every
# sample to ``f(x) = J(x) (x - mean)``. ``compute_contributions(X)[i, k, j]`` is how far
# feature ``j``'s deviation from its mean moves sample ``i`` along axis ``k``; a feature
# equal to its mean contributes exactly 0, and the contributions of a sample add up to its
# coordinates. With ``pca_components`` the centred inputs are also projected on that many
# principal axes before the encoder; the projection is linear, so the contributions are
# still reported per original feature.
#
# * ``compute_contributions(X)``: shape ``(n_samples, n_components, n_features)``, float32;
#   they sum to ``transform(X)`` within ``1e-5 * max(abs(embedding))``.
# * ``compute_contributions(X, dtype="float64")``: evaluated in float64; they sum to the
#   float64 forward pass within about 1e-12 relative.
# * ``compute_contributions(X, reduction="l2")``: shape ``(n_samples, n_features)``, each
#   feature's contribution length over the embedding axes.
# * ``compute_contributions(X, baseline=r)``: contributions relative to any reference ``r``
#   (a sample, a centroid, a control, or one per sample) that sum exactly to
#   ``transform(X) - transform(r)``: see :ref:`explaining` and :ref:`faithfulness`.
# * ``compute_jacobian(X)``: shape ``(n_samples, n_components, n_features)``, the matrices
#   whose row-wise products with the centred samples ``X - mean_`` are the contributions.
#
# ``transform`` is a pure forward pass, and on the CPU it does not depend on how samples are
# batched: ``transform(X)[idx] == transform(X[idx])`` bit for bit. Embedding components are
# numbered from 0 everywhere (``component=0``, the columns ``glassboxumap0, glassboxumap1``
# of ``get_feature_names_out`` and of the command line's CSV files, ``mean_component0`` in
# ``explain_groups``); the old 1-based names still working for one release are listed in
# the :doc:`changelog <../changelog>`.
C = reducer.compute_contributions(X)  # (n_samples, n_components, n_features), float32
print(C.shape, C.dtype)
error = np.abs(C.sum(-1) - emb).max() / np.abs(emb).max()
print(f"largest |sum of contributions - embedding| / max|embedding|: {error:.1e} (float32)")

# %%
# In float64 the sums match the float64 forward pass to rounding;
# :func:`~glass_box_umap.check_exactness` measures it on every sample:
from glass_box_umap import check_exactness

print(check_exactness(reducer, X, dtype="float64"))

# %%
# The features that place a sample: the five pixels with the longest contribution vectors
# for sample 0, and the map of one pixel's contribution over the whole embedding
# (:func:`~glass_box_umap.plotting.plot_feature_contribution`).
from glass_box_umap import top_features
from glass_box_umap.plotting import plot_feature_contribution

top = np.abs(C[0]).sum(0).argsort()[::-1][:5]
print("the 5 pixels that place sample 0:", top)
top_features(C[:3], k=3)

# %%
fig = plot_feature_contribution(emb, C, int(top[0]), component="l2")

# %%
# ``reduction="l2"`` gives each feature's contribution length over the axes, one number per
# sample and feature:
print(reducer.compute_contributions(X[:4], reduction="l2").shape)

# %%
# Saving
# ------
# :meth:`~glass_box_umap.GlassBoxUMAP.save` writes one safetensors file: the encoder's
# weights, the training mean, the input scale, the PCA axes and the training embedding as
# tensors, and the parameters, the training history and the package version as JSON
# metadata; never a pickle. :meth:`~glass_box_umap.GlassBoxUMAP.load` reads it back without
# executing anything from it. The loaded model embeds and explains bit for bit as the saved
# one. Loading a model and explaining with it never imports Lightning.
import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "digits.safetensors"
    reducer.save(path)
    loaded = GlassBoxUMAP.load(path)
    print(f"{path.name}: {path.stat().st_size / 1e3:.0f} kB")
    print("transform identical:", np.array_equal(loaded.transform(X), reducer.transform(X)))
    print(
        "contributions identical:",
        np.array_equal(loaded.compute_contributions(X), C),
    )
