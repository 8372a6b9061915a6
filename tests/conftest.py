"""Shared small data sets and fitted models; kept small so the suite stays fast."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from glass_box_umap import GlassBoxUMAP

FAST = dict(epochs=8, batch_size=2048, quiet=True)


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return d.data[:400].astype(np.float32), d.target[:400]


@pytest.fixture(scope="session")
def wine() -> tuple[np.ndarray, np.ndarray]:
    d = load_wine()
    return StandardScaler().fit_transform(d.data), d.target


@pytest.fixture(scope="session")
def fitted(digits) -> GlassBoxUMAP:
    X, _ = digits
    return GlassBoxUMAP(random_state=0, **FAST).fit(X)


@pytest.fixture(scope="session")
def fitted_pca(digits) -> GlassBoxUMAP:
    X, _ = digits
    return GlassBoxUMAP(random_state=1, pca_components=10, **FAST).fit(X)
