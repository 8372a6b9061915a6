"""Property-based inputs over the public path fit -> transform -> compute_contributions ->
save -> load -> transform (issue 20).

Either a TypeError/ValueError that names the argument, or finite outputs, contributions
that sum to the embedding, and a reloaded model that transforms bit for bit.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glass_box_umap import GlassBoxUMAP

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

DTYPES = ["float32", "float64", "int32", "int64", "Int64", "Float64", "boolean"]


@st.composite
def inputs(draw):
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    # Magnitudes from 1e-30 to 1e30, per column when mixed.
    exponents = draw(st.lists(st.integers(-30, 30), min_size=1, max_size=d))
    X *= 10.0 ** np.resize(exponents, d)
    duplicated = draw(st.integers(0, max(0, n - 2)))
    if duplicated:
        X[:duplicated] = X[duplicated]
    if draw(st.booleans()):
        X[:, draw(st.integers(0, d - 1))] = 1.0
    if draw(st.integers(0, 5)) == 0:
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    dtype = draw(st.sampled_from(DTYPES))
    if dtype in ("int32", "int64", "Int64"):
        X = np.clip(np.round(X), -(2**20), 2**20)
    if dtype == "boolean":
        X = X > 0
    if dtype[0].isupper() or dtype == "boolean":
        frame = pd.DataFrame(X).astype(dtype) if np.isfinite(X).all() else pd.DataFrame(X)
        return frame, draw(st.integers(2, 6))
    X = X.astype(dtype) if np.isfinite(X).all() or dtype.startswith("float") else X
    if draw(st.booleans()):
        X = np.asfortranarray(X)
    if draw(st.booleans()):
        X.setflags(write=False)
    return X, draw(st.integers(2, 6))


def _names_argument(err: Exception) -> bool:
    text = str(err)
    return text.startswith(("X", "n_neighbors", "y")) or "n_neighbors" in text


def _check(X, n_neighbors):
    reducer = GlassBoxUMAP(
        n_neighbors=n_neighbors, epochs=1, batch_size=256, num_batches=1, quiet=True,
        random_state=0,
    )  # fmt: skip
    try:
        reducer.fit(X)
    except (TypeError, ValueError) as err:
        assert _names_argument(err), f"{type(err).__name__} does not name the argument: {err}"
        return
    emb = reducer.transform(X)
    assert np.isfinite(emb).all()
    contributions = reducer.compute_contributions(X)
    assert np.isfinite(contributions).all()
    total = contributions.reshape(*contributions.shape[:2], -1).sum(-1)
    scale = max(float(np.abs(emb).max()), 1e-30)
    assert np.abs(total - emb).max() <= 1e-5 * scale
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        reducer.save(path)
        again = GlassBoxUMAP.load(path)
    np.testing.assert_array_equal(again.transform(X), emb)


def test_fuzz_found_huge_magnitudes_train():
    # Found by the fuzzer: 1e22 data diverged in training before the global input scale.
    X = np.random.default_rng(0).normal(size=(25, 4)) * 1e22
    _check(X, 4)


@hypothesis.settings(max_examples=20, deadline=None, derandomize=True)
@hypothesis.given(inputs())
def test_fuzz_public_path(case):
    _check(*case)


@pytest.mark.slow
@hypothesis.settings(max_examples=2000, deadline=None)
@hypothesis.given(inputs())
def test_fuzz_public_path_long(case):
    _check(*case)
