"""
.. _custom-encoders:

Custom Encoders
===============

Exactness, ``f(x) = J(x) x``, holds for any network built only from bias-free linear maps
(dense or convolutional) and positively homogeneous piecewise-linear activations (PReLU,
LeakyReLU, ReLU), with max or average pooling, additive skips, dropout and scale-only
normalisations frozen when explaining. Three such encoders ship; you can register your own;
and :func:`~glass_box_umap.check_exactness` says, for any encoder and your data, whether the
contributions add up and what breaks them if they do not.
"""

# %%
# The registry
# ------------
import numpy as np
import torch
from _docs_settings import QUICK, epochs
from sklearn.datasets import load_digits
from torch import nn

from glass_box_umap import GlassBoxUMAP, available_encoders, check_exactness, register_encoder

print(available_encoders())

# %%
# An encoder is registered under a name by decorating its class; its constructor takes
# ``(input_dims, n_components, **encoder_kwargs)``. Registering runs the contract checks
# (the signature, and a module that maps zero to zero).
@register_encoder("tiny")  # constructor: (input_dims, n_components, **kwargs)
class Tiny(nn.Sequential):
    def __init__(self, input_dims, n_components, width=32):
        super().__init__(
            nn.Linear(input_dims, width, bias=False),
            nn.PReLU(),
            nn.Linear(width, n_components, bias=False),
        )


digits = load_digits()
X, labels = digits.data.astype(np.float32), digits.target
if QUICK:
    X, labels = X[:400], labels[:400]
reducer = GlassBoxUMAP(
    encoder_name="tiny", encoder_kwargs={"width": 64}, random_state=0, quiet=True,
    epochs=epochs(100, 5),
).fit(X)
print(check_exactness(reducer, X[:500]))

# %%
# An instance (copied, never trained in place) or a factory works too, with no registry:
# ``GlassBoxUMAP(encoder=Tiny(64, 2))``. A saved model records the encoder's name and
# keyword arguments; loading one whose encoder is not registered says what to register, and
# a model fitted with ``encoder=`` loads with ``GlassBoxUMAP.load(path, encoder=...)``.
from glass_box_umap import unregister_encoder

unregister_encoder("tiny")

# %%
# The convolutional encoder: digits as 1 x 8 x 8 images
# -----------------------------------------------------
# Pass ``X`` of shape ``(n, C, H, W)`` with ``encoder_name="conv"`` (bias-free
# convolutions, PReLU, max pooling and a bias-free head). The neighbour graph is built on
# the flattened images; the encoder sees images, and the contributions come back as one
# exact map per embedding axis, of shape ``(n, n_components, C, H, W)``.
import time

import matplotlib.pyplot as plt
from custom_encoder_digits import inexact_lookalike, pick_examples, plot_maps
from sklearn.manifold import trustworthiness

images = X.reshape(-1, 1, 8, 8)
start = time.perf_counter()
conv = GlassBoxUMAP(encoder_name="conv", random_state=0, quiet=True, epochs=epochs())
embedding = conv.fit_transform(images)
print(f"fit in {time.perf_counter() - start:.1f} s on images of shape {conv.input_shape_}")
print(conv.encoder_)
print(f"trustworthiness (15 neighbours): {trustworthiness(X, embedding, n_neighbors=15):.3f}")

# %%
contributions = conv.compute_contributions(images)
print(contributions.shape)
marked = pick_examples(labels)
fig, ax = plt.subplots(figsize=(6.5, 5.5))
points = ax.scatter(embedding[:, 0], embedding[:, 1], c=labels, cmap="tab10", s=5)
ax.scatter(*embedding[marked].T, s=90, facecolors="none", edgecolors="black")
fig.colorbar(points, ax=ax, label="digit")
ax.set_title("Digits as 1x8x8 images, conv encoder")
plt.show()

# %%
# Each marked image, and its pixel contributions to each axis (red pushes the coordinate
# up, blue down); each map sums to the image's coordinate on its axis.
fig = plot_maps(images[marked], contributions[marked], embedding[marked], labels[marked])

# %%
# The residual encoder
# --------------------
# ``encoder_name="residual"``: bias-free residual MLP blocks
# (``encoder_kwargs={"hidden_size": ..., "n_blocks": ...}``), exact in the same way.
residual = GlassBoxUMAP(
    encoder_name="residual", encoder_kwargs={"n_blocks": 2}, random_state=0, quiet=True,
    epochs=epochs(),
).fit(X)
print(residual.encoder_)
print(f"trustworthiness: {trustworthiness(X, residual.embedding_, n_neighbors=15):.3f}")
print(check_exactness(residual, X))

# %%
# check_exactness on a good and a broken encoder
# ----------------------------------------------
# The fitted conv model, evaluated in float64 on every image: the contributions sum to the
# output to rounding, and the verdict is exact.
print(check_exactness(conv, images))

# %%
# A look-alike CNN with the usual defaults, biases and tanh (untrained, on centred images):
# the contributions miss the output, and the scan of the module tree names the culprits.
torch.manual_seed(0)
print(check_exactness(inexact_lookalike(), images - conv.mean_))

# %%
# One bias, or one smooth activation, is enough. An MLP otherwise like ours, first with a
# bias in its first layer, then with GELU activations:
torch.manual_seed(0)
with_bias = nn.Sequential(
    nn.Linear(64, 128, bias=True), nn.PReLU(), nn.Linear(128, 2, bias=False)
)
with_gelu = nn.Sequential(
    nn.Linear(64, 128, bias=False), nn.GELU(), nn.Linear(128, 2, bias=False)
)
centred = X - X.mean(0)
for name, module in [("bias", with_bias), ("GELU", with_gelu)]:
    report = check_exactness(module, centred)
    print(f"--- {name}: exact={report.exact}, probable culprit: {report.probable_culprit()}")
    print(report)

# %%
# ``fit`` runs the same check on a custom encoder before training, on a few training
# samples, and warns (``ExactnessWarning``) naming the probable culprit, so no training
# time is spent on an encoder whose contributions would not add up.
import warnings

from glass_box_umap import ExactnessWarning

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    GlassBoxUMAP(encoder=with_gelu, epochs=1, random_state=0, quiet=True).fit(X)
print([str(w.message)[:160] for w in caught if issubclass(w.category, ExactnessWarning)])

# %%
# The building blocks, each documented with why it keeps ``f(x) = J(x) x``, are in
# ``glass_box_umap.encoders.layers`` (see the :doc:`API reference <../api/index>`).
# Jacobians are ``n_components`` batched backward passes for any encoder, with a closed
# form for the default MLP.
