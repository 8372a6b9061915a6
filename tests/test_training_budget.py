"""How much training a fit gets, and the input noise that regularises it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from glass_box_umap import GlassBoxUMAP, training
from glass_box_umap.affinity import build_graph
from glass_box_umap.sampling import EdgeSampler

from .conftest import FAST, forward64


def _sampler(X: np.ndarray) -> EdgeSampler:
    edges = build_graph(X, 10, "euclidean", 0, torch.device("cpu"), "exact")
    return EdgeSampler(edges, 256, 5, torch.device("cpu"), torch.Generator().manual_seed(0))


@pytest.mark.parametrize("chunk", [training._NOISE_CHUNK, 97])
def test_noise_scale_is_mean_neighbour_distance_over_sqrt_dim(digits, monkeypatch, chunk):
    monkeypatch.setattr(training, "_NOISE_CHUNK", chunk)
    X = digits[0][:150].astype(np.float32)
    sampler = _sampler(X)
    head, tail = sampler.head.numpy(), sampler.tail.numpy()
    expected = np.zeros(len(X))
    for i in range(len(X)):
        mine = head == i
        expected[i] = np.linalg.norm(X[i] - X[tail[mine]], axis=1).mean()
    expected /= np.sqrt(X.shape[1])

    scale = training.UMAPModule.noise_scale(torch.as_tensor(X), sampler)
    assert scale.shape == (len(X), 1)
    np.testing.assert_allclose(scale[:, 0].numpy(), expected, rtol=1e-5)


def test_noise_scale_keeps_image_shape_and_follows_units(digits):
    X = digits[0][:150].astype(np.float32)
    sampler = _sampler(X)
    flat = training.UMAPModule.noise_scale(torch.as_tensor(X), sampler)
    images = training.UMAPModule.noise_scale(torch.as_tensor(X).view(-1, 1, 8, 8), sampler)
    assert images.shape == (len(X), 1, 1, 1)
    np.testing.assert_array_equal(images.flatten(), flat.flatten())
    # Noise is relative to the data: scaling the data scales it, nothing else changes.
    tenfold = training.UMAPModule.noise_scale(torch.as_tensor(10 * X), sampler)
    np.testing.assert_allclose(tenfold.numpy(), 10 * flat.numpy(), rtol=1e-5)


def test_noise_only_perturbs_training(digits):
    X = digits[0]
    noisy = GlassBoxUMAP(random_state=0, input_noise=0.5, **FAST).fit(X)
    again = GlassBoxUMAP(random_state=0, input_noise=0.5, **FAST).fit(X)
    clean = GlassBoxUMAP(random_state=0, input_noise=0.0, **FAST).fit(X)
    # Seeded noise is part of the seeded run: bit-identical refits.
    np.testing.assert_array_equal(noisy.embedding_, again.embedding_)
    assert not np.array_equal(noisy.embedding_, clean.embedding_)
    # What the fitted model reports is the clean forward pass, and stays exact: float64
    # contributions sum to an independent float64 forward pass of the trained encoder.
    np.testing.assert_array_equal(noisy.embedding_, noisy.transform(X))
    emb64 = forward64(noisy, X)
    C = noisy.compute_contributions(X, dtype="float64")
    np.testing.assert_allclose(C.sum(-1), emb64, rtol=0, atol=1e-12 * np.abs(emb64).max())
    np.testing.assert_allclose(emb64, noisy.embedding_, rtol=1e-4, atol=1e-4)


def test_noise_improves_the_map_of_unseen_points(digits):
    # Why input_noise exists: on held-out points of a small split the map's
    # neighbourhoods classify better. (Full splits: benchmarks/generalization.py.)
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.33, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    accuracy = {}
    settings = {
        "none": (0.0, 0.0, 0.0),
        "input": (0.25, 0.0, 0.0),
        "neighbour": (0.0, 0.5, 0.0),
        "neighbour and across (default)": (0.0, 0.5, 1.5),
    }
    for name, (input_noise, neighbour_noise, across_noise) in settings.items():
        reducer = GlassBoxUMAP(
            random_state=0,
            quiet=True,
            epochs=50,
            batch_size=2048,
            num_batches=40,  # 2,000 steps, enough for the across noise
            input_noise=input_noise,
            neighbour_noise=neighbour_noise,
            across_noise=across_noise,
        )
        train = reducer.fit_transform(X_train)
        knn = KNeighborsClassifier(10).fit(train, y_train)
        accuracy[name] = knn.score(reducer.transform(X_test), y_test)
    print(accuracy)
    assert accuracy["input"] >= accuracy["none"] + 0.02, accuracy
    assert accuracy["neighbour"] >= accuracy["none"] + 0.02, accuracy
    assert accuracy["neighbour and across (default)"] >= accuracy["neighbour"] + 0.01, accuracy


class _PeekBatch(Callback):
    """Records the number of edges the sampler draws per step."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.batch_size = pl_module.sampler.batch_size


@pytest.mark.parametrize("batch_size", [10**6, 64])
def test_a_step_draws_at_most_the_graphs_edges(digits, batch_size):
    X = digits[0][:100]
    peek = _PeekBatch()
    kw = dict(FAST, epochs=1, batch_size=batch_size)
    reducer = GlassBoxUMAP(random_state=0, extra_callbacks=[peek], **kw).fit(X)
    n_edges = len(reducer.graph_.head)
    assert 64 < n_edges < 10**6
    assert peek.batch_size == min(batch_size, n_edges)
