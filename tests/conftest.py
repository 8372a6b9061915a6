"""Shared small data sets and fitted models; kept small so the suite stays fast.

Also what every test module shares about its environment: the suite runs on the CPU
(:func:`_pin_to_cpu`), and a dependency the ``dev`` extra installs is required, not
optional, when the ``CI`` environment variable is set (:func:`skip_unless_ci`).
"""

from __future__ import annotations

import copy
import importlib
import os
from types import ModuleType

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from glass_box_umap import GlassBoxUMAP, training

#: Small fits: 8 epochs of 3 steps of 2,048 edges (an epoch's steps do not depend on n,
#: so ``num_batches`` keeps them as few as a 400-point graph would have had before).
FAST = dict(epochs=8, batch_size=2048, num_batches=3, quiet=True)

#: Whether this machine has a CUDA device, read before the suite hides it (tests/test_cuda.py).
CUDA_AVAILABLE = torch.cuda.is_available()
_REAL_CUDA_IS_AVAILABLE = torch.cuda.is_available


def skip_unless_ci(reason: str) -> None:
    """Skip the calling test (or module) for ``reason``; under ``CI=1``, fail instead.

    CI installs everything the tests need, so a missing piece there is a broken set-up
    that must turn the run red rather than shrink it silently.
    """
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so this must run: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """``pytest.importorskip(name)``, except that under ``CI=1`` a missing module fails."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        skip_unless_ci(f"could not import {name!r}: {err}")
        raise  # unreachable: skip_unless_ci always raises


def cpu_env() -> dict[str, str]:
    """The environment for subprocesses of the CPU suite: no CUDA device visible."""
    return {**os.environ, "CUDA_VISIBLE_DEVICES": ""}


def forward64(reducer: GlassBoxUMAP, X: np.ndarray) -> np.ndarray:
    """The embedding of ``X`` by a float64 forward pass written here, not the library's.

    Centre on ``mean_``, project on ``pca_components_`` if any, divide by
    ``input_scale_``, run a float64 copy of ``encoder_``: an independent reference for
    what float64 contributions must sum to.

    Returns
    -------
    ndarray of shape (n_samples, n_components), float64
    """
    x = torch.as_tensor(np.asarray(X, dtype=np.float64) - reducer.mean_.reshape(-1))
    if reducer.pca_components_ is not None:
        x = x @ torch.as_tensor(reducer.pca_components_, dtype=torch.float64).T
    x = x / reducer.input_scale_
    encoder = copy.deepcopy(reducer.encoder_).double().eval()
    with torch.no_grad():
        return encoder(x).numpy()


@pytest.fixture(scope="session", autouse=True)
def _pin_to_cpu():
    """Every fit in the suite trains and searches neighbours on the CPU.

    The library's defaults (``accelerator='auto'``, neighbours on CUDA when present) are
    left alone for users; only this test session sees the CPU as the default, so that a
    GPU machine runs the same suite. Tests that want the GPU undo it with
    :func:`use_cuda` (tests/test_cuda.py).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(training.TRAINER_DEFAULTS, "accelerator", "cpu")
        mp.setattr(torch.cuda, "is_available", lambda: False)
        yield


@pytest.fixture
def use_cuda(monkeypatch):
    """Undo :func:`_pin_to_cpu` for one test: ``accelerator='auto'`` and CUDA visible."""
    monkeypatch.setitem(training.TRAINER_DEFAULTS, "accelerator", "auto")
    monkeypatch.setattr(torch.cuda, "is_available", _REAL_CUDA_IS_AVAILABLE)


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
