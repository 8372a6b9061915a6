"""The map's training recipe: unit invariance (the input scale), the batch-RMS
normalisation folded into plain weights, the training-time PReLU, and the noise along
neighbourhoods."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from sklearn.manifold import trustworthiness

from glass_box_umap import GlassBoxUMAP
from glass_box_umap._prelu import TrainingPReLU, restore_prelu, use_training_prelu
from glass_box_umap.affinity import EdgeList
from glass_box_umap.encoders.mlp import MLPEncoder
from glass_box_umap.model import input_scale
from glass_box_umap.normalisation import (
    BatchRMS,
    fold_batch_rms,
    insert_batch_rms,
    supports_batch_rms,
)
from glass_box_umap.sampling import NeighbourNoise

from .conftest import FAST

DATA = Path(__file__).parent / "data"
KW = dict(FAST, random_state=0)


@pytest.fixture(scope="module")
def small(digits):
    X, _ = digits
    return X[:300]


@pytest.fixture(scope="module")
def reference(small):
    return GlassBoxUMAP(**KW).fit(small)


# ------------------------------------------------------------------ units
def test_input_scale_is_the_rms_of_the_encoder_inputs(reference, small):
    centred = small - small.mean(0)
    assert reference.input_scale_ == pytest.approx(np.sqrt(np.mean(centred**2)), rel=1e-6)
    # what the encoder is trained on has unit mean square
    inputs = reference.map_.prepare(small)
    assert float(inputs.double().square().mean()) == pytest.approx(1.0, rel=1e-5)
    assert input_scale(torch.zeros(5, 3)) == 1.0


@pytest.mark.parametrize("c", [2.0**-20, 0.5, 8.0, 2.0**30])
def test_power_of_two_units_give_the_same_fit_bit_for_bit(reference, small, c):
    scaled = GlassBoxUMAP(**KW).fit(small * c)
    assert scaled.input_scale_ == reference.input_scale_ * c
    np.testing.assert_array_equal(scaled.embedding_, reference.embedding_)
    np.testing.assert_array_equal(scaled.transform(small[:40] * c), reference.transform(small[:40]))


@pytest.mark.parametrize("c", [1e-6, 1e6, 1e20])
def test_any_units_give_the_same_quality(reference, small, c):
    scaled = GlassBoxUMAP(**KW).fit(small * c)
    base = trustworthiness(small, reference.embedding_, n_neighbors=15)
    assert abs(trustworthiness(small, scaled.embedding_, n_neighbors=15) - base) <= 0.002
    # the embedding's size does not follow the units either
    ratio = np.abs(scaled.embedding_).max() / np.abs(reference.embedding_).max()
    assert 0.8 < ratio < 1.25


def test_contributions_stay_exact_and_in_the_original_units(small):
    X = small * 1e4 + 3e4
    reducer = GlassBoxUMAP(**KW).fit(X)
    emb = reducer.transform(X)
    C = reducer.compute_contributions(X)
    assert np.abs(C.sum(-1) - emb).max() <= 1e-5 * np.abs(emb).max()
    C64 = reducer.compute_contributions(X, dtype="float64")
    J = reducer.compute_jacobian(X, dtype="float64")
    np.testing.assert_allclose(J * (X - reducer.mean_)[:, None, :], C64, rtol=0, atol=1e-9)
    assert np.abs(C64.sum(-1) - emb).max() <= 1e-5 * np.abs(emb).max()


def test_the_scale_is_saved_and_old_files_load_with_scale_one(reference, small, tmp_path):
    path = tmp_path / "m.safetensors"
    reference.save(path)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
        assert float(f.get_tensor("scale")) == reference.input_scale_
    assert meta["format_version"] == 3  # readers that know no scale refuse it
    loaded = GlassBoxUMAP.load(path)
    assert loaded.input_scale_ == reference.input_scale_
    np.testing.assert_array_equal(loaded.transform(small), reference.transform(small))
    for name in ("format1_wine.safetensors", "format2_digits_conv.safetensors"):
        assert GlassBoxUMAP.load(DATA / name).input_scale_ == 1.0


def test_warm_start_keeps_the_scale(reference, small):
    warm = copy.deepcopy(reference).set_params(warm_start=True, epochs=1)
    warm.fit(small * 1.5)
    assert warm.input_scale_ == reference.input_scale_


# ------------------------------------------------------------------ the fold
def test_batch_rms_is_inserted_without_changing_the_map_and_folded_back():
    torch.manual_seed(0)
    encoder = MLPEncoder(10, 2)
    plain = copy.deepcopy(encoder)
    x = torch.randn(500, 10)
    names = list(encoder.state_dict())
    assert supports_batch_rms(encoder)
    insert_batch_rms(encoder, x)
    assert sum(isinstance(m, BatchRMS) for m in encoder.net) == 3
    encoder.eval()
    torch.testing.assert_close(encoder(x), plain(x), rtol=1e-5, atol=1e-6)
    # train mode on the same batch divides by the batch RMS, which the running one began at
    encoder.train()
    torch.testing.assert_close(encoder(x), plain(x), rtol=1e-4, atol=1e-5)
    encoder.eval()
    with torch.no_grad():
        for m in encoder.net:
            if isinstance(m, BatchRMS):
                m.running_rms.mul_(torch.linspace(0.5, 2.0, m.running_rms.numel()))
    before = encoder(x)
    fold_batch_rms(encoder)
    assert not any(isinstance(m, BatchRMS) for m in encoder.net)
    assert list(encoder.state_dict()) == names
    torch.testing.assert_close(encoder(x), before, rtol=1e-5, atol=1e-6)


def test_batch_rms_gradient_is_the_gradient_through_the_batch_statistic():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(300, 16, generator=gen, dtype=torch.float64) * torch.linspace(0.1, 3.0, 16)
    upstream = torch.randn(300, 16, generator=gen, dtype=torch.float64)
    layer = BatchRMS(torch.ones(16, dtype=torch.float64)).train()
    x = h.clone().requires_grad_()
    (layer(x) * upstream).sum().backward()
    y = h.clone().requires_grad_()
    (y / (y.square().mean(0) + 1e-12).sqrt() * upstream).sum().backward()
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-12, atol=1e-14)
    expected_running = 0.9 + 0.1 * (h.square().mean(0) + 1e-12).sqrt()
    torch.testing.assert_close(layer.running_rms, expected_running, rtol=1e-12, atol=0)


def test_a_fit_ships_a_plain_encoder_equal_to_the_trained_network(small):
    captured = {}

    import glass_box_umap.training as training

    real_fold = training.fold_batch_rms

    def spy(encoder):
        captured["net"] = copy.deepcopy(encoder).eval()
        real_fold(encoder)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "fold_batch_rms", spy)
        reducer = GlassBoxUMAP(**KW).fit(small)
    trained = captured["net"]
    assert sum(isinstance(m, BatchRMS) for m in trained.net) == 3
    shipped = reducer.encoder_
    assert type(shipped) is MLPEncoder
    assert not any(isinstance(m, BatchRMS) for m in shipped.modules())
    assert list(shipped.state_dict()) == list(MLPEncoder(64, 2).state_dict())
    x = reducer.map_.prepare(small)
    with torch.no_grad():
        np.testing.assert_allclose(
            reducer.embedding_,
            trained(x).numpy(),
            rtol=1e-5,
            atol=1e-5 * np.abs(reducer.embedding_).max(),
        )
    C = reducer.compute_contributions(small, dtype="float64")
    assert np.abs(C.sum(-1) - reducer.embedding_).max() <= 1e-5 * np.abs(reducer.embedding_).max()


def test_other_encoders_train_without_the_normalisation(small):
    reducer = GlassBoxUMAP(encoder_name="residual", **KW).fit(small)
    assert not any(isinstance(m, BatchRMS) for m in reducer.encoder_.modules())
    assert not supports_batch_rms(reducer.encoder_)


# ------------------------------------------------------------------ training-time PReLU
@pytest.mark.parametrize(
    "shape, n_slopes", [((200, 32), 1), ((16, 4, 5, 5), 4), ((16, 4, 5, 5), 1)]
)
def test_training_prelu_computes_prelu_and_its_gradients(shape, n_slopes):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    x.view(-1)[:7] = 0.0  # the kink: both give the slope's branch there
    upstream = torch.randn(shape, generator=gen)
    plain = torch.nn.PReLU(n_slopes, init=0.3)
    with torch.no_grad():
        plain.weight.copy_(torch.linspace(-0.2, 0.6, n_slopes))
    fast = TrainingPReLU(n_slopes)
    fast.weight = torch.nn.Parameter(plain.weight.detach().clone())
    grads = []
    for layer in (plain, fast):
        inputs = x.clone().requires_grad_()
        out = layer(inputs)
        (out * upstream).sum().backward()
        grads.append((out.detach(), inputs.grad, layer.weight.grad))
    (out, grad_x, grad_w), (fast_out, fast_grad_x, fast_grad_w) = grads
    assert torch.equal(fast_out, out)
    assert torch.equal(fast_grad_x, grad_x)
    torch.testing.assert_close(fast_grad_w, grad_w, rtol=1e-5, atol=1e-5)


def test_training_prelu_is_swapped_in_with_the_same_parameters_and_swapped_back():
    encoder = MLPEncoder(10, 2)
    names = list(encoder.state_dict())
    slopes = [m.weight for m in encoder.modules() if isinstance(m, torch.nn.PReLU)]
    use_training_prelu(encoder)
    swapped = [m for m in encoder.modules() if isinstance(m, torch.nn.PReLU)]
    assert len(swapped) == 3 and all(type(m) is TrainingPReLU for m in swapped)
    assert all(m.weight is w for m, w in zip(swapped, slopes, strict=True))
    assert list(encoder.state_dict()) == names
    restore_prelu(encoder)
    back = [m for m in encoder.modules() if isinstance(m, torch.nn.PReLU)]
    assert all(type(m) is torch.nn.PReLU for m in back)
    assert all(m.weight is w for m, w in zip(back, slopes, strict=True))


@pytest.mark.parametrize("encoder_name", ["default", "residual"])
def test_a_fit_ships_plain_prelu_modules(small, encoder_name):
    reducer = GlassBoxUMAP(encoder_name=encoder_name, **KW).fit(small)
    activations = [m for m in reducer.encoder_.modules() if isinstance(m, torch.nn.PReLU)]
    assert activations and all(type(m) is torch.nn.PReLU for m in activations)


# ------------------------------------------------------------------ neighbour noise
def _chain(n: int) -> EdgeList:
    """A path graph 0 - 1 - ... - n-1, both directions, weights 1, plus an isolated vertex."""
    head = np.r_[np.arange(n - 1), np.arange(1, n)]
    tail = np.r_[np.arange(1, n), np.arange(n - 1)]
    return EdgeList(head, tail, np.ones(len(head), np.float32), n + 1)


def test_neighbour_noise_lies_in_the_span_of_the_neighbour_offsets():
    edges = _chain(5)
    generator = torch.Generator().manual_seed(0)
    noise = NeighbourNoise(edges, torch.device("cpu"), generator)
    x = torch.randn(6, 7)
    draws = torch.stack([noise(x, None) for _ in range(400)])
    assert draws.shape == (400, 6, 7)
    # vertex 0's only neighbour is 1: every draw is a multiple of x1 - x0
    direction = x[1] - x[0]
    along = draws[:, 0] @ direction / direction.dot(direction)
    torch.testing.assert_close(draws[:, 0], along[:, None] * direction, rtol=1e-4, atol=1e-5)
    # N(0, 1) mixing, divided by sqrt(draws): variance 1 along the single offset
    assert 0.8 < float(along.var()) < 1.2
    # an isolated vertex does not move; rows of a subset follow the subset
    assert torch.count_nonzero(draws[:, 5]) == 0
    sub = noise(x, torch.tensor([2, 0]))
    assert sub.shape == (2, 7)


def test_neighbour_noise_only_in_training_and_off_when_zero(small):
    with_noise = GlassBoxUMAP(**KW).fit(small)
    again = GlassBoxUMAP(**KW).fit(small)
    off = GlassBoxUMAP(neighbour_noise=0.0, **KW).fit(small)
    np.testing.assert_array_equal(with_noise.embedding_, again.embedding_)
    assert not np.array_equal(with_noise.embedding_, off.embedding_)
    # transform is a plain forward pass: deterministic, and the training embedding
    np.testing.assert_array_equal(with_noise.transform(small), with_noise.embedding_)
    assert with_noise.get_params()["neighbour_noise"] == 0.5


def test_neighbour_noise_is_validated():
    with pytest.raises(ValueError, match="neighbour_noise"):
        GlassBoxUMAP(neighbour_noise=-1.0).fit(np.zeros((30, 3)))
