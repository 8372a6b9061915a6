"""
.. _monitoring-training:

Monitoring Training
===================

A fit trains a neural network, so it can be watched as one: the loss per epoch, snapshots
of the embedding taking shape, TensorBoard, and Lightning callbacks such as early stopping.
Every figure on this page comes from the fits run on it (digits; quick builds use fewer
points and epochs).
"""

import numpy as np
import pandas as pd
from _docs_settings import QUICK, epochs, site_file
from sklearn.datasets import load_digits

from glass_box_umap import EmbeddingSnapshots, GlassBoxUMAP

X, y = load_digits(return_X_y=True)
if QUICK:
    X, y = X[:500], y[:500]

# %%
# The history
# -----------
# ``history_`` holds, per epoch, the loss with its attraction and repulsion parts, the
# sampled edges per second, the wall time since the fit started and the learning rate.
# With ``quiet=False`` (the default) a progress bar shows the same during the fit in a
# terminal or notebook; where standard output is a file (a cluster job's log), it is one
# line after the first epoch, one every tenth of the fit, and one at the end.
#
# Snapshots
# ---------
# :class:`~glass_box_umap.EmbeddingSnapshots` is a Lightning callback that embeds a fixed
# set of samples (up to 1,000) before the first step and every ``every_n_epochs`` epochs;
# it goes in ``extra_callbacks``.
snaps = EmbeddingSnapshots(X, every_n_epochs=epochs(20, 2), labels=y)
reducer = GlassBoxUMAP(extra_callbacks=[snaps], random_state=0, quiet=True, epochs=epochs())
reducer.fit(X)
history = pd.DataFrame(reducer.history_)
history.iloc[[0, 1, len(history) // 2, -1]]

# %%
# The best epoch's weights are the ones kept (``restore_best_weights=True``):
print(f"best epoch {reducer.best_epoch_}, loss {min(reducer.history_['loss']):.3f}")

# %%
# :func:`~glass_box_umap.plotting.plot_training` draws the snapshots in a grid beside the
# loss curve, with the snapshot epochs marked on it.
from glass_box_umap.plotting import plot_training

fig = plot_training(snaps)

# %%
# :meth:`~glass_box_umap.EmbeddingSnapshots.save_animation` writes them as an animation (a
# GIF here; ``.html`` gives a page with play controls). This one was written by the build:
#
# .. raw:: html
#
#    <img src="../training.gif" alt="the digits embedding taking shape, one frame per
#    snapshot" style="max-width: 420px">
#
gif = snaps.save_animation(site_file("training.gif"), fps=3)
print(f"{gif.name}: {len(snaps.epochs_)} frames, {gif.stat().st_size / 1e3:.0f} kB")

# %%
# In Jupyter, ``EmbeddingSnapshots(X, labels=y, live=True)`` redraws the latest snapshot
# and the loss curve in the cell's output at each snapshot, in place (IPython display
# handles; no server or thread outlives the fit). Each redraw costs a figure render, about
# 0.2-0.4 s for 1,000 points (``python benchmarks/snapshot_overhead.py`` prints it).
#
# Snapshots themselves cost nothing measurable at the defaults: a recorded run of
# ``python benchmarks/snapshot_overhead.py`` (digits, 200 epochs, 21 snapshots of 1,000
# points) measured 18.44 s with them against 18.81 s without, a ratio of 0.98 (noise).
#
# TensorBoard
# -----------
# With ``checkpoint_dir`` set, Lightning's checkpoints go to
# ``checkpoint_dir/checkpoints/`` and TensorBoard event files to
# ``checkpoint_dir/tensorboard/``; open them with
# ``tensorboard --logdir <checkpoint_dir>/tensorboard``. With
# ``EmbeddingSnapshots(..., log_images=True)`` the snapshots are logged as images too. (With
# ``checkpoint_dir=None`` both go to a temporary folder removed after the fit.) Here the
# event file this fit wrote is read back with TensorBoard's own reader, and its scalars are
# drawn as TensorBoard's Scalars tab shows them:
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

with tempfile.TemporaryDirectory() as folder:
    logged = EmbeddingSnapshots(X, every_n_epochs=epochs(50, 5), labels=y, log_images=True)
    GlassBoxUMAP(
        checkpoint_dir=Path(folder), extra_callbacks=[logged], random_state=0, quiet=True,
        epochs=epochs(),
    ).fit(X)
    events = EventAccumulator(str(Path(folder) / "tensorboard")).Reload()
    tags = events.Tags()
    print("scalars:", tags["scalars"])
    print("images:", tags["images"][:3], "...")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3), constrained_layout=True)
    for ax, tag in zip(axes, ["loss", "attraction", "repulsion"]):
        scalars = events.Scalars(tag)
        ax.plot([s.step for s in scalars], [s.value for s in scalars])
        ax.set(title=tag, xlabel="step")
    plt.show()

# %%
# Early stopping with a Lightning callback
# ----------------------------------------
# ``extra_callbacks`` takes any Lightning callback. Lightning's ``EarlyStopping`` watches
# the logged ``loss`` at the end of every training epoch (there is no validation loop);
# here it stops once the loss has not improved by 0.005 for 10 epochs.
from lightning.pytorch.callbacks import EarlyStopping

stopper = EarlyStopping(monitor="loss", min_delta=0.005, patience=epochs(10, 2), mode="min")
early = GlassBoxUMAP(
    extra_callbacks=[stopper], random_state=0, quiet=True, epochs=epochs(400, 20)
).fit(X)
print(
    f"stopped after {len(early.history_['loss'])} of {early.epochs} epochs "
    f"(best epoch {early.best_epoch_}, loss {min(early.history_['loss']):.3f})"
)

# %%
from glass_box_umap.plotting import plot_loss

fig = plot_loss(early.history_)
print(f"{np.round(early.history_['time'][-1], 1)} s of training")
