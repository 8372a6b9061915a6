"""
.. _command-line:

Command line
============

``glass-box-umap`` fits, transforms and explains data files without writing Python::

    glass-box-umap fit cells.csv --out run1 --label-column cell_type --drop-columns cell_id
    glass-box-umap transform run1/model.safetensors new_cells.parquet --out new_embedding.csv
    glass-box-umap explain run1/model.safetensors cells.h5ad --groups cell_type --out why

``fit`` reads .csv, .tsv, .parquet, .npy or .h5ad and writes ``embedding.csv``,
``contributions.npz`` (float32, with feature names and sample ids), ``model.safetensors``,
``embedding.png`` and, when Bokeh is installed, ``explorer.html``; it prints a summary with
timings. ``--id-column`` (all three commands) names the samples of ``embedding.csv`` and
``contributions.npz`` (.h5ad files use their ``obs_names``); ``transform`` and ``explain``
read the model's columns by name and ignore the others, text included. Missing files,
unreadable formats, non-numeric columns, columns a model expects but the data lacks, empty
cells in a label column (without ``--supervised``) and an ``--out`` that cannot be written
(a file where a folder goes, or the reverse) are reported by name, with exit status 2,
before anything is fitted. A refit into a used folder that writes no ``explorer.html``
(``--no-explorer``, or Bokeh not installed) removes the previous run's and says so.

``transform`` needs only the fitted map, so it imports neither scikit-learn nor
Lightning: in a recorded run on this project's 2-core CPU, a cold
``glass-box-umap transform`` of digits (1,797 rows) took 2.7-3.9 s (7.7-10.1 s before it
skipped those imports, same machine and session), most of it ``import torch`` itself
(2.1-2.8 s for ``python -c "import torch"``).

``make demo`` runs the fourth command, ``glass-box-umap demo --out demo_output``: a fit of
sklearn's digits at the defaults, writing ``embedding.csv``, ``contributions.npy``,
``model.safetensors`` and ``embedding.png``.

This page runs the three commands on the iris data (the commands are called in this
process through ``glass_box_umap.cli.main``, with the arguments the shell would pass).
"""

import tempfile
from pathlib import Path

import pandas as pd
import matplotlib.pyplot as plt
from _docs_settings import epochs
from sklearn.datasets import load_iris

from glass_box_umap.cli import main

folder = Path(tempfile.mkdtemp())
iris = load_iris(as_frame=True)
cells = iris.data.assign(
    species=iris.target_names[iris.target], sample_id=[f"s{i}" for i in range(150)]
)
cells.to_csv(folder / "iris.csv", index=False)
cells.head(3)

# %%
# fit
# ---
status = main(
    [
        "fit", str(folder / "iris.csv"), "--out", str(folder / "run1"),
        "--label-column", "species", "--drop-columns", "sample_id",
        "--epochs", str(epochs()), "--quiet",
    ]
)
plt.close("all")  # the figures fit drew are in its files; the page shows those files
print("exit status", status)
print(sorted(p.name for p in (folder / "run1").iterdir()))

# %%
# The ``embedding.png`` that ``fit`` wrote:
fig, ax = plt.subplots(figsize=(6, 5))
ax.imshow(plt.imread(folder / "run1" / "embedding.png"))
ax.axis("off")
plt.show()

# %%
pd.read_csv(folder / "run1" / "embedding.csv").head(3)

# %%
# transform
# ---------
status = main(
    [
        "transform", str(folder / "run1" / "model.safetensors"), str(folder / "iris.csv"),
        "--drop-columns", "sample_id,species", "--out", str(folder / "new_embedding.csv"),
    ]
)
print("exit status", status)

# %%
# explain
# -------
status = main(
    [
        "explain", str(folder / "run1" / "model.safetensors"), str(folder / "iris.csv"),
        "--groups", "species", "--drop-columns", "sample_id", "--out", str(folder / "why"),
    ]
)
plt.close("all")
print("exit status", status, sorted(p.name for p in (folder / "why").iterdir()))

# %%
# The ``top_features.png`` that ``explain`` wrote (each species' strongest measurements):
fig, ax = plt.subplots(figsize=(9, 4))
ax.imshow(plt.imread(folder / "why" / "top_features.png"))
ax.axis("off")
plt.show()

# %%
# Columns the model never reads (here the text columns ``species`` and ``sample_id``) are
# ignored, so ``transform`` needs no ``--drop-columns``:
status = main(
    [
        "transform", str(folder / "run1" / "model.safetensors"), str(folder / "iris.csv"),
        "--out", str(folder / "all_columns.csv"),
    ]
)
print("exit status", status)

# %%
# A wrong output is refused before any work, in one line with exit status 2 (here ``--out``
# names a folder):
try:
    status = main(
        [
            "transform", str(folder / "run1" / "model.safetensors"), str(folder / "iris.csv"),
            "--out", str(folder / "why"),
        ]
    )
except SystemExit as stop:
    status = stop.code
print("exit status", status)

# %%
# The options
# -----------
# ``--supervised`` makes the label column supervise the fit (empty cells are unlabelled;
# ``--target-weight``); ``--encoder default|residual``, ``--hidden-size``,
# ``--n-hidden-layers``, ``--n-blocks``, ``--knn-method``, ``--input-noise``,
# ``--neighbour-noise`` and ``--accelerator`` set the rest, with umap-learn's ``--metric``
# (any metric pynndescent knows, or ``precomputed``), ``--metric-kwds '{"p": 3}'``,
# ``--spread``, ``--local-connectivity``, ``--set-op-mix-ratio``,
# ``--disconnection-distance``, and ``--precomputed-knn knn.npz`` (arrays ``indices`` and
# ``distances``) to skip the neighbour search. The full list, as ``--help`` prints it:
from glass_box_umap.cli import build_parser

parser = build_parser()
fit_parser = parser._subparsers._group_actions[0].choices["fit"]
print(fit_parser.format_help())
