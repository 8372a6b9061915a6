"""The fitted map as one module (``GlassBoxMap``), and the estimator parts built on it:
the single commit step of fit and load, the parameter table, the training config."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import numpy as np
import pytest
import scipy.sparse
import torch

from glass_box_umap import GlassBoxUMAP, check_exactness
from glass_box_umap.model import MIN_ROWS, FittedState, GlassBoxMap, in_dtype
from glass_box_umap.parameters import PARAMETER_CONSTRAINTS, check_params

from .conftest import FAST, forward64


def test_map_embeds_and_explains_like_the_estimator(fitted_pca, digits):
    X, _ = digits
    map_ = fitted_pca.map_
    assert isinstance(map_, GlassBoxMap) and map_.encoder is fitted_pca.encoder_
    assert map_.input_shape == fitted_pca.input_shape_ == (64,)
    np.testing.assert_array_equal(map_.embed(X), fitted_pca.transform(X))
    np.testing.assert_array_equal(map_.embed(X), fitted_pca.embedding_)
    C = map_.contributions(X, torch.float64)
    np.testing.assert_array_equal(C, fitted_pca.compute_contributions(X, dtype="float64"))
    # exact against the map's own float64 forward pass (its projection is the float32 one
    # the encoder was trained with), and close to an independent float64 computation
    with torch.no_grad():
        out = in_dtype(map_, torch.float64)(torch.from_numpy(X - fitted_pca.mean_)).numpy()
    np.testing.assert_allclose(C.sum(-1), out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(C.sum(-1), forward64(fitted_pca, X), rtol=0, atol=1e-5)
    # the Jacobians times the centred samples are the contributions, row by row
    J = fitted_pca.compute_jacobian(X[:50], dtype="float64")
    assert J.shape == (50, 2, 64)
    np.testing.assert_allclose(J * (X[:50] - fitted_pca.mean_)[:, None, :], C[:50], atol=1e-12)
    # the encoder's inputs: centred, projected on the PCA axes, divided by the scale
    expected = (X - fitted_pca.mean_) @ fitted_pca.pca_components_.T / fitted_pca.input_scale_
    np.testing.assert_allclose(map_.prepare(X).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_map_batches_pad_small_chunks_and_centre_sparse_input(fitted, digits):
    X, _ = digits
    map_ = fitted.map_
    chunks = list(map_.batches(X[:21], torch.float64, batch_size=10))
    assert [n for n, _ in chunks] == [16, 5]  # batch_size is raised to MIN_ROWS
    assert chunks[1][1].shape == (MIN_ROWS, 64) and not chunks[1][1][5:].any()
    torch.testing.assert_close(chunks[0][1], torch.from_numpy(X[:16] - fitted.mean_).double())
    sparse = scipy.sparse.csr_matrix(X[:40])
    np.testing.assert_array_equal(map_.embed(sparse), map_.embed(X[:40]))
    np.testing.assert_array_equal(map_.embed(X)[[3, 7]], map_.embed(X[[3, 7]]))


def test_map_keeps_the_mean_in_float64_whatever_it_is_cast_to(fitted, digits):
    X, _ = digits
    map_ = copy.deepcopy(fitted.map_)
    map_.double()
    assert map_.mean.dtype == torch.float64 and map_.encoder.net[0].weight.dtype == torch.float64
    map_.float()
    assert map_.mean.dtype == torch.float64
    np.testing.assert_array_equal(map_.embed(X), fitted.transform(X))


def test_exactness_checks_a_map_without_the_estimator(fitted, digits):
    X, _ = digits
    report = check_exactness(fitted.map_, X)
    assert report.exact and report.n_samples == len(X)
    assert check_exactness(fitted, X).max_abs_error == report.max_abs_error
    with pytest.raises(ValueError, match="X has 63 features, but GlassBoxMap is expecting 64"):
        check_exactness(fitted.map_, X[:, :63])
    with pytest.raises(ValueError, match="not fitted"):
        check_exactness(GlassBoxUMAP(), X)


def test_fit_and_load_commit_the_same_attributes(fitted, tmp_path):
    fitted.save(tmp_path / "m.safetensors")
    loaded = GlassBoxUMAP.load(tmp_path / "m.safetensors")
    fitted_names = {k for k in vars(fitted) if k.endswith("_") and not k.startswith("_")}
    loaded_names = {k for k in vars(loaded) if k.endswith("_") and not k.startswith("_")}
    assert fitted_names == loaded_names
    assert loaded.interrupted_ is False and loaded.graph_ is None
    assert {f.name for f in dataclasses.fields(FittedState)} >= {"map", "embedding", "history"}


def test_interrupted_flag_survives_save_and_load(fitted, tmp_path):
    model = copy.deepcopy(fitted)
    model.interrupted_ = True
    model.save(tmp_path / "m.safetensors")
    assert GlassBoxUMAP.load(tmp_path / "m.safetensors").interrupted_ is True


def test_parameter_table_covers_every_parameter_and_is_checked_without_lightning():
    names = set(inspect.signature(GlassBoxUMAP).parameters)
    assert set(PARAMETER_CONSTRAINTS) == names
    checked = check_params(GlassBoxUMAP().get_params())
    assert checked["trainer_kwargs"] == {} and checked["pca_components"] is None
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['evil'\]"):
        check_params({**GlassBoxUMAP().get_params(), "evil": 1})
    with pytest.raises(ValueError, match="trainer_kwargs: 'max_epochs' conflicts"):
        check_params({**GlassBoxUMAP().get_params(), "trainer_kwargs": {"max_epochs": 3}})


def test_trainer_is_probed_once_per_fit(digits, monkeypatch):
    from glass_box_umap import training

    calls = []
    real = training._probe_trainer

    def count(kwargs):
        calls.append(kwargs)
        return real(kwargs)

    monkeypatch.setattr(training, "_probe_trainer", count)
    X, _ = digits
    kw = dict(FAST, epochs=1)
    GlassBoxUMAP(random_state=0, trainer_kwargs={"accelerator": "cpu"}, **kw).fit(X[:100])
    assert calls == [{"accelerator": "cpu"}]


def test_training_config_is_frozen_and_keyword_only():
    from glass_box_umap.training import TrainingConfig

    config = TrainingConfig(a=1.0, b=1.0, seed=0, steps_per_epoch=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.1
    with pytest.raises(TypeError):
        TrainingConfig(1.0, 1.0, 0, 4)
