"""
.. _faithfulness:

How faithful are the explanations?
==================================

``compute_contributions(X)`` explains a sample relative to the origin of the embedding,
where the training mean lands. ``compute_contributions(X, baseline=r)`` (built on
:func:`glass_box_umap.paths.path_contributions`, which takes any piecewise-linear module)
explains it relative to any reference: integrated gradients along the straight path from
``r`` to ``x``, with the integral summed over the linear pieces of the encoder that the
path crosses (found in closed form by forward-mode AD with the activation pattern frozen,
and checked piece by piece), not approximated by a Riemann sum. Both split the displacement
exactly over the features. :func:`glass_box_umap.explain.to_shap` hands either kind of
contributions to SHAP's plots (``pip install glass_box_umap[shap]``)::

    import shap
    from glass_box_umap import explain_difference
    from glass_box_umap.explain import to_shap

    phi = reducer.compute_contributions(X, baseline=X[0])  # why here rather than where X[0] lands
    emb = reducer.transform(X)                     # phi.sum(-1) == emb - emb[0]: 1e-5 (float32)
    explain_difference(phi, emb - emb[0], 5, 0)    # sample 5 against sample 0: shares sum to 1
    explanation = to_shap(phi, X, component=0, base_values=emb[0, 0])
    shap.plots.waterfall(explanation[5])           # also beeswarm, bar, heatmap

But do the features they rank first really move the point most? This page measures it
against exact Shapley values, KernelSHAP, captum's Integrated Gradients, gradient times
difference and a random order.
"""

# %%
# The measurement
# ---------------
# ``benchmarks/faithfulness.py``: wine and digits, ``StandardScaler``, ``GlassBoxUMAP``
# defaults with ``random_state=0``; each method attributes the displacement
# ``f(x) - f(b)``, and features are ranked by the length of their attribution over the two
# embedding axes. **Deletion**: the top-k features of ``x`` take the baseline's values; the
# curve is the fraction of ``||f(x) - f(b)||`` closed. **Insertion**: the top-k features of
# ``x`` go into the baseline; the fraction of the way to ``f(x)``. AUC over k/d in [0, 1]:
# **higher is better for both**. ``sum error``: the median of
# ``||sum_j A_j - (f(x) - f(b))|| / ||f(x) - f(b)||``. Baselines: ``mean``, the training
# mean; ``other``, for each sample a random sample of another class. KernelSHAP:
# ``shap.KernelExplainer``, ``l1_reg=False``, either with the baseline as its only
# background row (``background b``: baseline Shapley, the same quantity as ours and as the
# exact Shapley row) or, against the mean only, with 100 training samples (``shap.sample``)
# as background (``100 rows``), which explains ``f(x) - E f(background)`` instead. Exact
# Shapley: ``glass_box_umap.shapley.baseline_shapley(module, X, baseline)``, every one of
# the 2^d coalitions of features between the baseline and ``x`` evaluated in batched
# forward passes (the values sum to ``f(x) - f(b)``), for d up to 16 (``max_features``;
# beyond it a ``TooManyFeaturesError``): wine (d = 13), not digits (d = 64). IG: captum's
# ``IntegratedGradients``, 50 steps. One torch thread for every method.
#
# This build runs it on fewer samples than the recorded run below (40 per data set with
# KernelSHAP's budget cut to 500 evaluations; quick builds: wine only, 20 samples, 20
# epochs), so its numbers are noisier; the figure is this build's.
import sys

from _docs_settings import QUICK, site_file
from faithfulness import main as faithfulness

figure = site_file("faithfulness.png")
if QUICK:
    arguments = ["--quick"]
else:
    arguments = ["--n-samples", "40", "--kernel-nsamples", "500"]
sys.stdout.flush()
faithfulness([*arguments, "--figure", str(figure)])

# %%
# Mean deletion and insertion curves of every method, from the run above:
#
# .. raw:: html
#
#    <img src="../faithfulness.png" alt="mean deletion and insertion curves of every
#    method" style="max-width: 100%">
#
# The recorded run
# ----------------
# ``nice .venv/bin/python benchmarks/faithfulness.py --figure docs/faithfulness.png``:
# wine and digits, 100 samples each, KernelSHAP's ``nsamples='auto'`` (2d + 2048
# coalitions), a 2-core CPU shared with other work (223 s when the machine was quiet,
# 408 s for this run, whose seconds per sample are inflated alike). ``explains``: what
# the values add up to; ``rho``: Spearman's correlation of the method's feature ranking
# with the exact Shapley ranking, per sample, averaged (wine only: digits has d = 64, and
# 2^64 coalitions per sample are not computed).
#
# .. list-table:: Recorded run: 100 samples per data set
#    :header-rows: 1
#
#    * - data
#      - baseline
#      - method
#      - explains
#      - deletion AUC
#      - insertion AUC
#      - rho
#      - sum error
#      - s / sample
#    * - wine
#      - mean
#      - exact Shapley
#      - f(x) - f(b)
#      - 0.743
#      - 0.719
#      - 1
#      - 3e-08
#      - 0.039
#    * -  
#      -  
#      - contributions
#      - f(x) - f(b)
#      - 0.717
#      - 0.703
#      - 0.845
#      - 1e-07
#      - 2.3e-05
#    * -  
#      -  
#      - exact path
#      - f(x) - f(b)
#      - 0.717
#      - 0.703
#      - 0.845
#      - 1e-07
#      - 0.00018
#    * -  
#      -  
#      - KernelSHAP, background b
#      - f(x) - f(b)
#      - 0.742
#      - 0.718
#      - 0.997
#      - 1e-07
#      - 0.039
#    * -  
#      -  
#      - KernelSHAP, 100 rows
#      - f(x) - E f(100 rows)
#      - 0.742
#      - 0.689
#      - 0.845
#      - 0.2
#      - 1.1
#    * -  
#      -  
#      - IG (50 steps)
#      - f(x) - f(b), approx.
#      - 0.717
#      - 0.703
#      - 0.845
#      - 2e-07
#      - 0.0023
#    * -  
#      -  
#      - grad x (x - b)
#      - J(x) (x - b)
#      - 0.717
#      - 0.703
#      - 0.845
#      - 1e-07
#      - 0.00013
#    * -  
#      -  
#      - random
#      - -
#      - 0.480
#      - 0.428
#      - 0.027
#      - -
#      - -
#    * - wine
#      - other
#      - exact Shapley
#      - f(x) - f(b)
#      - 0.762
#      - 0.751
#      - 1
#      - 4e-08
#      - 0.062
#    * -  
#      -  
#      - contributions, C(x) - C(b)
#      - f(x) - f(b)
#      - 0.698
#      - 0.684
#      - 0.652
#      - 1e-07
#      - 0.00022
#    * -  
#      -  
#      - exact path
#      - f(x) - f(b)
#      - 0.754
#      - 0.746
#      - 0.933
#      - 2e-07
#      - 0.061
#    * -  
#      -  
#      - KernelSHAP, background b
#      - f(x) - f(b)
#      - 0.762
#      - 0.752
#      - 0.998
#      - 1e-07
#      - 0.052
#    * -  
#      -  
#      - IG (50 steps)
#      - f(x) - f(b), approx.
#      - 0.753
#      - 0.746
#      - 0.933
#      - 0.005
#      - 0.0021
#    * -  
#      -  
#      - grad x (x - b)
#      - J(x) (x - b)
#      - 0.689
#      - 0.719
#      - 0.775
#      - 0.4
#      - 5.2e-05
#    * -  
#      -  
#      - random
#      - -
#      - 0.434
#      - 0.469
#      - -0.006
#      - -
#      - -
#    * - digits
#      - mean
#      - contributions
#      - f(x) - f(b)
#      - 0.827
#      - 0.816
#      - -
#      - 2e-07
#      - 6.9e-05
#    * -  
#      -  
#      - exact path
#      - f(x) - f(b)
#      - 0.827
#      - 0.816
#      - -
#      - 2e-07
#      - 0.00023
#    * -  
#      -  
#      - KernelSHAP, background b
#      - f(x) - f(b)
#      - 0.847
#      - 0.826
#      - -
#      - 1e-07
#      - 0.089
#    * -  
#      -  
#      - KernelSHAP, 100 rows
#      - f(x) - E f(100 rows)
#      - 0.836
#      - 0.809
#      - -
#      - 0.07
#      - 1.8
#    * -  
#      -  
#      - IG (50 steps)
#      - f(x) - f(b), approx.
#      - 0.827
#      - 0.816
#      - -
#      - 2e-07
#      - 0.0018
#    * -  
#      -  
#      - grad x (x - b)
#      - J(x) (x - b)
#      - 0.827
#      - 0.816
#      - -
#      - 2e-07
#      - 1.1e-05
#    * -  
#      -  
#      - random
#      - -
#      - 0.525
#      - 0.439
#      - -
#      - -
#      - -
#    * - digits
#      - other
#      - contributions, C(x) - C(b)
#      - f(x) - f(b)
#      - 0.782
#      - 0.795
#      - -
#      - 2e-07
#      - 0.00029
#    * -  
#      -  
#      - exact path
#      - f(x) - f(b)
#      - 0.868
#      - 0.871
#      - -
#      - 3e-07
#      - 0.022
#    * -  
#      -  
#      - KernelSHAP, background b
#      - f(x) - f(b)
#      - 0.871
#      - 0.875
#      - -
#      - 1e-07
#      - 0.052
#    * -  
#      -  
#      - IG (50 steps)
#      - f(x) - f(b), approx.
#      - 0.868
#      - 0.871
#      - -
#      - 0.008
#      - 0.0018
#    * -  
#      -  
#      - grad x (x - b)
#      - J(x) (x - b)
#      - 0.812
#      - 0.853
#      - -
#      - 0.6
#      - 1e-05
#    * -  
#      -  
#      - random
#      - -
#      - 0.459
#      - 0.483
#      - -
#      - -
#      - -
#
# .. figure:: /faithfulness.png
#    :alt: mean deletion and insertion curves of every method, recorded run
#
#    The recorded run's mean deletion and insertion curves of every method (100 samples per
#    data set), written by its ``--figure docs/faithfulness.png``.
#
# What the table says
# -------------------
# - **Against the mean, every gradient method is the same explanation.** The encoder is
#   positively homogeneous, so the ray from the mean to ``x`` crosses no kink (the path walk
#   crossed 1 piece for every sample): the exact path, IG at any number of steps, gradient x
#   input and today's contributions are the same numbers up to float rounding (contributions
#   and exact path: largest difference 0).
# - **At the same reference, the Shapley ranking is more faithful than ours, by 0.3-3.5%.**
#   Against the mean our contributions trail the exact Shapley values by 3.5% in deletion
#   (0.717 against 0.743) and 2.2% in insertion (0.703 against 0.719) on wine, and
#   KernelSHAP with the mean as its background (which finds the exact values' ranking:
#   rho 0.997) by 2.4% and 1.2% on digits (0.827 against 0.847, 0.816 against 0.826). Against
#   another sample the exact path trails exact Shapley by 1.0% and 0.7% on wine (0.754 against
#   0.762, 0.746 against 0.751) and KernelSHAP by 0.3% and 0.5% on digits. Where we lead is
#   cost and exactness: 1,700x (wine) and 1,300x (digits) less time per sample than a
#   one-row-background KernelSHAP against the mean, values that add up to ``f(x) - f(b)``
#   to float32 rounding, and no sampling. Against KernelSHAP with the wider 100-row
#   background, the number this section used to quote, our contributions trail in deletion
#   (0.717 against 0.742 on wine, 0.827 against 0.836 on digits) and lead in insertion (0.703
#   against 0.689, 0.816 against 0.809), but that KernelSHAP explains a different quantity:
#   its values miss ``f(x) - f(mean)`` by 20% (wine) and 7% (digits).
# - **Why Shapley leads here.** Deletion and insertion move the top-k features of ``x`` to the
#   baseline's values: they evaluate ``f`` at corners of the box between ``b`` and ``x``, the very
#   points a Shapley value averages its marginal contributions over. A path attribution
#   only sees the straight segment from ``b`` to ``x`` (from the mean: one linear piece, the
#   Jacobian at ``x`` all along). Where the map bends between the corners, a feature's effect
#   at the corners differs from its effect along the ray, and the Shapley ranking is built
#   from the corners the metric scores. Rank correlation with the exact ranking: 0.845 for
#   the contributions against the mean, 0.933 for the exact path against another sample.
# - **On today's map the gap does not come from features whose contribution changes sign.** Split each
#   Shapley value into the weighted mass ``P`` of its marginal contributions ``v(S + j) - v(S)``
#   that have the sign of the path's attribution ``A`` and ``N`` of those against it
#   (``phi = sign(A) (P - N)``; the benchmark prints this for every data set with d <= 16).
#   Against the mean on wine, marginal contributions against the path's sign carry 11.8% of
#   the mass and occur for 94% of the (sample, axis, feature) triples; the Shapley value has
#   the other sign than the contribution for 17.6% of them. Correcting the contributions for
#   the sign changes alone (``A - sign(A) N``) closes +1% (deletion) and -27% (insertion) of
#   the gap to exact Shapley; correcting only the same-sign magnitudes (``sign(A) P``) closes
#   69% and 108% of it. The gap is one of magnitudes: features whose effect at the corners is
#   larger or smaller than at ``x``, with the same sign. (The two corrections do not add up;
#   on the older map below the sign correction alone closes 102% and 81%, the magnitude one
#   60% and 100%, so the magnitudes are the part that closes it on every map measured.)
# - **The training recipe moves the gap; it does not remove it.** The same script on the
#   map of f32fcb2 (before the input scale, the folded batch-RMS training and
#   ``neighbour_noise=0.5``; the measurements of issue 23), wine against the mean:
#   contributions 0.631 / 0.621, exact Shapley 0.654 / 0.659, so 3.5% (deletion) and 5.8%
#   (insertion) behind; digits 0.811 / 0.804 against KernelSHAP's 0.834 / 0.821, 2.8% and
#   2.1% behind. Today's defaults: 3.5% and 2.2% (wine), 2.4% and 1.2% (digits): the insertion
#   gap shrinks, the deletion gap does not. Today's recipe with ``--set neighbour_noise=0``:
#   wine 0.629 / 0.678 against 0.671 / 0.671 (6.3% behind in deletion, 1.0% ahead in
#   insertion), digits 0.788 / 0.782 against 0.814 / 0.791. The gap is a property of how
#   much each map bends between the mean and ``x``, not of the attribution, which is exact
#   for the quantity it explains. (Issue 23 found our contributions 12% ahead of a
#   mean-background KernelSHAP on digits at f32fcb2 with 40 samples; with this script, 100
#   samples and ``l1_reg=False``, KernelSHAP is ahead there too.)
# - **Against another sample, the exact path is within 1% of exact Shapley**, and equal to
#   IG at 50 steps, whose sums miss ``f(x) - f(b)`` by 0.5% to 0.8% where the path's are exact
#   (float32 rounding). The path crossed 214 pieces per sample on wine (median; 307 at most)
#   and 202 on digits (310).
# - **Today's contributions fall behind against another sample**: their exact split of the
#   difference, ``C(x) - C(b)``, is 7.4-8.3% (wine) and 8.7-9.9% (digits) below the path in
#   both AUCs (rho 0.652 on wine).
#   Each sample is explained against the mean separately, so a feature on which ``x`` and ``b``
#   agree still gets ``J(x)[:, j] (x_j - mean_j) - J(b)[:, j] (b_j - mean_j)``, non-zero wherever
#   the two Jacobians differ: credit for moving the point that the feature cannot take back.
#   The path gives such a feature exactly 0 (its factor ``x_j - b_j`` is 0). Gradient x
#   difference at ``x`` alone ranks between the two and does not add up (sum error 0.4 and 0.6).
