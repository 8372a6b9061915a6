"""
.. _explaining:

Explaining embeddings
=====================

Because the contributions of every sample add up exactly to its coordinates, sums and
averages of them add up to sums and averages of positions: which features place a point,
a group, or the gap between two groups, all exactly. This page works through sklearn's
wine data (178 wines, 13 chemical measurements, 3 cultivars), standardised and kept as a
DataFrame, so every answer is named by its measurement.
"""

import numpy as np
from _docs_settings import epochs, site_file
from explain_wine import describe_group, load

from glass_box_umap import GlassBoxUMAP

X, cultivar = load()
reducer = GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs())
emb = reducer.fit_transform(X)
C = reducer.compute_contributions(X)  # (178, 2, 13)
names = reducer.feature_names_in_  # from the DataFrame's columns
print(C.shape, list(names[:4]), "...")
print(f"max |sum of contributions - embedding| = {np.abs(C.sum(-1) - emb).max():.1e}")

# %%
# Contributions and top features
# ------------------------------
# ``contributions_frame`` is the tidy view (one row per sample, component and feature),
# ``top_features`` each sample's strongest features.
from glass_box_umap import top_features

reducer.contributions_frame(X).head()

# %%
top_features(C[:2], k=3, feature_names=names)

# %%
from glass_box_umap.plotting import plot_embedding, plot_feature_contribution, plot_top_features

fig = plot_embedding(emb, cultivar, title="Wine by cultivar")

# %%
# The embedding coloured by one measurement's contribution (signed, on component 0: a
# diverging map centred on zero):
fig = plot_feature_contribution(emb, C, "proline", component=0, feature_names=names)

# %%
# Groups and differences
# ----------------------
# :func:`~glass_box_umap.explain_groups`: per group and feature, the mean signed
# contribution on each axis (they sum to the group's centroid), the mean length and its
# share of the group's total.
from glass_box_umap import explain_difference, explain_groups

table = explain_groups(C, cultivar, feature_names=names)
for group in sorted(set(cultivar)):
    print(describe_group(table, group))
table[table["rank"] <= 3]

# %%
fig = plot_top_features(C, cultivar, k=6, feature_names=names)

# %%
# :func:`~glass_box_umap.explain_difference`: each feature's part of the distance between
# two groups' centroids; the shares sum to 1.
diff = explain_difference(
    C, emb, cultivar == "cultivar_0", cultivar == "cultivar_1", feature_names=names
)
print(f"distance {diff.attrs['gap']:.2f}, 1 - sum of shares = {diff.attrs['residual']:+.1e}")
diff.head(5)

# %%
# Baselines and exact path attributions
# -------------------------------------
# ``compute_contributions(X)`` explains each wine relative to the origin, where the mean
# wine lands. ``compute_contributions(X, baseline=r)`` explains it relative to any
# reference (a sample, a centroid, a control): the contributions then sum exactly to
# ``transform(X) - transform(r)``. They are integrated gradients along the straight path
# from ``r`` to ``x``, with the integral summed exactly over the linear pieces of the
# encoder the path crosses (:func:`glass_box_umap.paths.path_contributions`), not
# approximated by a Riemann sum.
reference = X.iloc[[0]].to_numpy()
phi = reducer.compute_contributions(X, baseline=reference[0])
displacement = emb - reducer.transform(reference)
print(phi.shape, f"max |sum - displacement| = {np.abs(phi.sum(-1) - displacement).max():.1e}")

# %%
# With contributions relative to one sample and the displacements they sum to,
# :func:`~glass_box_umap.explain_difference` splits the step between two samples exactly:
# ``explain_difference(phi, displacement, 5, 0)`` gives each feature's part of the way from
# wine 0 to wine 5 (the shares sum to 1, and a feature equal in the two wines gets exactly
# 0).
#
# Against a group's centroid: what carries each wine of cultivar 1 away from the average
# cultivar-0 wine.
centroid = X[cultivar == "cultivar_0"].mean().to_numpy()
phi_centroid = reducer.compute_contributions(X, baseline=centroid)
top_features(phi_centroid[cultivar == "cultivar_1"][:2], k=3, feature_names=names)

# %%
# SHAP's plots, drawn from our values
# -----------------------------------
# :func:`glass_box_umap.explain.to_shap` hands one component's contributions to SHAP as a
# ``shap.Explanation``, with the baseline's coordinate as the base value, so SHAP's
# waterfall, beeswarm, bar and heatmap plots draw exact values (the ``shap`` extra).
import matplotlib.pyplot as plt
import shap

from glass_box_umap.explain import to_shap

explanation = to_shap(phi, X, component=0, base_values=reducer.transform(reference)[0, 0])
shap.plots.waterfall(explanation[5], show=False)
plt.title("wine 5 against wine 0, component 0")
plt.show()

# %%
shap.plots.beeswarm(to_shap(C, X, component=0), show=False)
plt.title("all wines against the mean wine, component 0")
plt.show()

# %%
# The interactive explorer
# ------------------------
# :func:`~glass_box_umap.plotting.save_explorer` writes one self-contained HTML file (Bokeh,
# WebGL, works offline). Hover a wine for its top three measurements; colour by cultivar,
# by any measurement's contribution (searchable) or by each wine's top feature; lasso a
# region for the mean contributions that place it. Click a wine to make it the reference:
# the hover then shows, for every other wine, the differences of contributions
# ``C(x) - C(reference)``, which sum to its displacement from the reference (the hover
# states it); click it again, or "Clear reference", to return to contributions relative to
# the mean. For one reference chosen in advance, pass its exact path contributions (here
# ``phi``, relative to wine 0) and the hover shows those instead::
#
#     save_explorer("relative.html", emb, C, reference=0, reference_contributions=phi)
#
# This build's explorer, embedded:
#
# .. raw:: html
#
#    <p><a href="../explorer_wine.html">Open the explorer on a page of its own</a>
#    (its controls sit to the right of the plot; scroll the frame to reach them).</p>
#    <iframe id="explorer" src="../explorer_wine.html" title="wine explorer"
#    style="width: 100%; height: 780px; border: 1px solid #ccc"></iframe>
#
from glass_box_umap.plotting import save_explorer

path = save_explorer(
    site_file("explorer_wine.html"),
    emb,
    C,
    feature_names=names,
    groups=cultivar,
    feature_values=X.to_numpy(),
    title="Wine: GlassBoxUMAP explorer",
)
print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB")

# %%
# Above 100,000 points the explorer shows a seeded random subsample, and above 8 million
# contribution values it keeps the strongest features; the page says so in both cases (a
# recorded 100,000 x 64 explorer: 59 MB, 7-8 s to write). ``examples/explain_wine.py`` runs
# this whole workflow as a script.
