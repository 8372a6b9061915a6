"""Writes the model files of tests/data with the code of the commit that made them.

Run from the repository root: ``python tests/data/make_fixtures.py``. The files pin the
saved format as it was at that commit (see tests/test_persistence_fixtures.py); do not
regenerate them with a later version, or they stop testing that old files still load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from glass_box_umap import GlassBoxUMAP

HERE = Path(__file__).parent
SMALL = dict(epochs=3, batch_size=512, num_batches=2, quiet=True, random_state=0)


def main() -> None:
    wine = load_wine(as_frame=True)
    X = pd.DataFrame(StandardScaler().fit_transform(wine.data), columns=wine.data.columns)
    probe = X.iloc[:20]
    # Format 1: flat input, registered encoder, feature names.
    flat = GlassBoxUMAP(
        n_neighbors=10, encoder_kwargs={"hidden_size": 16, "n_hidden_layers": 2}, **SMALL
    ).fit(X)
    flat.save(HERE / "format1_wine.safetensors")
    # Format 1 with a PCA projection and the residual encoder.
    pca = GlassBoxUMAP(
        n_neighbors=10,
        pca_components=5,
        encoder_name="residual",
        encoder_kwargs={"hidden_size": 8, "n_blocks": 1},
        **SMALL,
    ).fit(X.to_numpy())
    pca.save(HERE / "format1_wine_pca_residual.safetensors")
    # Format 2: N-D samples (8 x 8 images) and the conv encoder.
    images = (load_digits().data[:300] / 16.0).reshape(-1, 1, 8, 8)
    conv = GlassBoxUMAP(
        n_neighbors=10,
        encoder_name="conv",
        encoder_kwargs={"channels": [4], "hidden_size": 8},
        **SMALL,
    ).fit(images)
    conv.save(HERE / "format2_digits_conv.safetensors")
    np.savez(
        HERE / "expected.npz",
        images=images[:20],
        conv_embedding=conv.transform(images[:20]),
        conv_contributions=conv.compute_contributions(images[:20], dtype="float64"),
        X=probe.to_numpy(),
        flat_embedding=flat.transform(probe),
        flat_contributions=flat.compute_contributions(probe, dtype="float64"),
        pca_embedding=pca.transform(probe.to_numpy()),
        pca_contributions=pca.compute_contributions(probe.to_numpy(), dtype="float64"),
    )


if __name__ == "__main__":
    main()
