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

``pip install -e ".[io,shap]"`` in an environment of your own does the same for the
package and its optional extras (``io``: parquet and AnnData files; ``shap``: SHAP's
plots; ``faiss``: FAISS neighbour search). A GPU is used automatically when PyTorch sees
one.

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
# coordinates.
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
# :meth:`~glass_box_umap.GlassBoxUMAP.save` writes one safetensors file (weights, the
# training mean, the input scale and the parameters as JSON; never a pickle), and
# :meth:`~glass_box_umap.GlassBoxUMAP.load` reads it back without executing anything from
# it. The loaded model embeds and explains bit for bit as the saved one.
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
