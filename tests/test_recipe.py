"""The map's training recipe: unit invariance (the input scale), the batch-RMS
normalisation folded into plain weights, the training-time PReLU, the noise along and
across neighbourhoods, and the noise-free end of a fit."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch
from lightning.pytorch import Callback
from safetensors import safe_open
from sklearn.manifold import trustworthiness

from glass_box_umap import GlassBoxUMAP, sampling
from glass_box_umap._prelu import TrainingPReLU, restore_prelu, use_training_prelu
from glass_box_umap.affinity import EdgeList
from glass_box_umap.encoders.mlp import MLPEncoder
from glass_box_umap.model import input_scale
from glass_box_umap.normalisation import (
    BatchRMS,
    TrainingNet,
    fold_batch_rms,
    insert_batch_rms,
    supports_batch_rms,
)
from glass_box_umap.sampling import (
    ACROSS_MAX_VALUES,
    AcrossNoise,
    NeighbourNoise,
    _heaviest_neighbours,
)

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


def _weights(graph):
    return scipy.sparse.csr_matrix(
        (graph.weight, (graph.head, graph.tail)), shape=(graph.n_vertices,) * 2
    )


@pytest.mark.parametrize("c", [1e-6, 1e6, 1e20])
def test_any_units_give_the_same_inputs_graph_and_quality(small, c):
    # 24 steps: 'auto' draws no across noise (the defaults are checked on a whole fit
    # below, where it is drawn).
    reference = GlassBoxUMAP(**KW).fit(small)
    scaled = GlassBoxUMAP(**KW).fit(small * c)
    # what training sees: the same encoder inputs, to float32 rounding ...
    np.testing.assert_allclose(
        scaled.map_.prepare(small * c), reference.map_.prepare(small), rtol=0, atol=1e-5
    )
    # ... and the same graph, but where rounding breaks digits' tied distances another way
    # (12 of 5,222 weights, measured)
    moved = abs(_weights(scaled.graph_) - _weights(reference.graph_))
    assert (moved > 1e-4).nnz <= 0.01 * len(reference.graph_.head)
    # From there the two fits part as any two float computations of one fit do (a step's
    # rounding, a neighbour drawn from another alias bucket), so a 24-step fit's quality
    # is compared within the spread of seeds (trustworthiness 0.873 to 0.905 over seeds
    # 0-4); the defaults' 0.002 is checked on a whole fit below.
    base = trustworthiness(small, reference.embedding_, n_neighbors=15)
    assert abs(trustworthiness(small, scaled.embedding_, n_neighbors=15) - base) <= 0.02
    # the embedding's size does not follow the units either
    ratio = np.abs(scaled.embedding_).max() / np.abs(reference.embedding_).max()
    assert 0.8 < ratio < 1.25


@pytest.mark.slow
def test_any_units_give_the_same_quality_at_the_defaults():
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float32)
    trust = {
        c: trustworthiness(
            X, GlassBoxUMAP(random_state=0, quiet=True).fit(X * c).embedding_, n_neighbors=15
        )
        for c in (1.0, 1e-6, 1e6)
    }
    # measured: 0.9860, 0.9857, 0.9858 (Intel Xeon, 2026-12-06)
    assert abs(trust[1e-6] - trust[1.0]) <= 0.002 and abs(trust[1e6] - trust[1.0]) <= 0.002


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
    assert type(encoder.net) is TrainingNet
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
    assert type(encoder.net) is torch.nn.Sequential
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


@pytest.mark.parametrize("n_slopes", [1, 16])
def test_fused_prelu_and_batch_rms_compute_the_two_layers_and_their_gradients(n_slopes):
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(300, 16, generator=gen, dtype=torch.float64) * torch.linspace(0.1, 3.0, 16)
    h[:5] = 0.0  # the kink: PReLU's gradient takes the slope's branch there
    upstream = torch.randn(300, 16, generator=gen, dtype=torch.float64)
    slopes = torch.linspace(-0.2, 0.6, n_slopes, dtype=torch.float64)
    results = []
    for net_type in (torch.nn.Sequential, TrainingNet):
        prelu = torch.nn.PReLU(n_slopes).double()
        with torch.no_grad():
            prelu.weight.copy_(slopes)
        net = net_type(prelu, BatchRMS(torch.ones(16, dtype=torch.float64))).train()
        x = h.clone().requires_grad_()
        out = net(x)
        (out * upstream).sum().backward()
        results.append((out.detach(), x.grad, prelu.weight.grad, net[1].running_rms, out.grad_fn))
    (out, grad_x, grad_w, running, _), (f_out, f_grad_x, f_grad_w, f_running, fn) = results
    assert type(fn).__name__ == "_PReLUBatchRMSFunctionBackward"  # the fused path ran
    for mine, reference in ((f_out, out), (f_grad_x, grad_x), (f_grad_w, grad_w)):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(f_running, running, rtol=1e-14, atol=0)
    # eval mode and no-grad calls run the layers one by one, as nn.Sequential does
    net.eval()
    torch.testing.assert_close(net(h), net[1](net[0](h)), rtol=0, atol=0)


def test_fused_layers_share_one_scratch_buffer_across_batch_sizes():
    torch.manual_seed(0)
    fused = TrainingNet(torch.nn.PReLU(), BatchRMS(torch.ones(8))).train()
    plain = copy.deepcopy(torch.nn.Sequential(*fused)).train()
    for rows in (50, 200, 30, 200):  # grows, then reuses the buffer for smaller batches
        h = torch.randn(rows, 8)
        upstream = torch.randn(rows, 8)
        results = []
        for net in (fused, plain):
            x = h.clone().requires_grad_()
            (net(x) * upstream).sum().backward()
            results.append(x.grad)
        torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert fused._scratch._buffer.numel() == 200 * 8


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


def test_neighbour_noise_is_the_same_however_the_rows_are_given():
    """All rows (None), the same rows as indices, and those rows passed in gathered draw
    the same noise from the same generator state (a step passes the rows it encodes)."""
    edges = _chain(5)
    x = torch.randn(6, 7, dtype=torch.float64)
    every = torch.arange(6)

    def draw(vertices, encoded=None):
        noise = NeighbourNoise(edges, torch.device("cpu"), torch.Generator().manual_seed(3))
        return noise(x, vertices, encoded)

    reference = draw(None)
    assert torch.count_nonzero(reference[:5]) > 0
    torch.testing.assert_close(draw(every), reference, rtol=0, atol=0)
    torch.testing.assert_close(draw(every, x.index_select(0, every)), reference, rtol=0, atol=0)
    subset = torch.tensor([4, 0, 2])
    torch.testing.assert_close(
        draw(subset, x.index_select(0, subset)), draw(subset), rtol=0, atol=0
    )


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


# ------------------------------------------------------------------ across noise
def _random_graph(n: int, k: int, seed: int = 0) -> EdgeList:
    """Each vertex joined to k others at random, both directions, random weights."""
    rng = np.random.default_rng(seed)
    head = np.repeat(np.arange(n), k)
    tail = (head + rng.integers(1, n, size=n * k)) % n
    weight = rng.uniform(0.1, 1.0, size=n * k).astype(np.float32)
    return EdgeList(np.r_[head, tail], np.r_[tail, head], np.r_[weight, weight], n)


def test_heaviest_neighbours_are_chosen_by_weight_and_padded_with_the_vertex():
    head = np.array([0, 0, 0, 1, 2, 3])
    tail = np.array([1, 2, 3, 0, 0, 0])
    weight = np.array([0.1, 0.9, 0.5, 0.1, 0.9, 0.5], np.float32)
    neighbours = _heaviest_neighbours(EdgeList(head, tail, weight, 5), 2)
    np.testing.assert_array_equal(neighbours[0], [2, 3])
    np.testing.assert_array_equal(neighbours[1], [0, 1])  # one neighbour, then itself
    np.testing.assert_array_equal(neighbours[4], [4, 4])  # isolated


def test_across_noise_is_orthogonal_to_the_neighbour_span_and_isotropic_off_it():
    n, dim, rank = 40, 12, 3
    edges = _random_graph(n, 4)
    x = torch.randn(n, dim, generator=torch.Generator().manual_seed(1))
    noise = AcrossNoise(edges, x, rank, torch.Generator().manual_seed(0))
    assert noise.basis.shape == (n, rank, dim) and noise.rows is None
    draws = torch.stack([noise(None) for _ in range(500)]).double()
    assert draws.shape == (500, n, dim)
    neighbours = torch.as_tensor(_heaviest_neighbours(edges, rank))
    offsets = (x[neighbours] - x[:, None]).double()  # (n, rank, dim)
    along = torch.einsum("snd,nrd->snr", draws, offsets)
    assert float(along.abs().max()) < 1e-4 * float(offsets.norm(dim=2).max())
    # N(0, I) less its part in a rank-3 span: squared length dim - rank on average
    assert float(draws.square().sum(2).mean()) == pytest.approx(dim - rank, rel=0.05)
    # a subset of rows draws the same kind of noise, shaped like the inputs
    sub = noise(torch.tensor([3, 0, 3]))
    assert sub.shape == (3, dim)


def test_across_noise_beyond_its_memory_cap_covers_a_seeded_subset():
    n, dim, rank = 50, 6, 2
    edges = _random_graph(n, 3)
    x = torch.randn(n, 1, dim)  # shaped inputs come back shaped
    cap = 20 * rank * dim
    first = AcrossNoise(edges, x, rank, torch.Generator().manual_seed(0), max_values=cap)
    again = AcrossNoise(edges, x, rank, torch.Generator().manual_seed(0), max_values=cap)
    assert first.basis.shape == (20, rank, dim)
    torch.testing.assert_close(first.rows, again.rows, rtol=0, atol=0)
    draw = first(None)
    assert draw.shape == (n, 1, dim)
    carried = (first.rows >= 0).nonzero().flatten()
    moved = draw.flatten(1).abs().sum(1) > 0
    np.testing.assert_array_equal(moved.numpy(), (first.rows >= 0).numpy())
    assert len(carried) == 20
    sub = first(torch.tensor([int(carried[0]), int((first.rows < 0).nonzero()[0])]))
    assert float(sub[0].abs().sum()) > 0 and float(sub[1].abs().sum()) == 0


@pytest.mark.parametrize("cap", [None, 20], ids=["every vertex", "capped subset"])
@pytest.mark.parametrize("vertices", [None, [7, 0, 7, 31, 2, 49]], ids=["all", "some"])
def test_across_noise_drawn_in_chunks_equals_one_piece(monkeypatch, cap, vertices):
    # A step projects its rows a few at a time (so that no gather of bases is a fresh
    # allocation of tens of MiB); how many at a time must not change a single bit.
    n, dim, rank = 50, 6, 2
    edges = _random_graph(n, 3)
    x = torch.randn(n, dim, generator=torch.Generator().manual_seed(2))
    max_values = ACROSS_MAX_VALUES if cap is None else cap * rank * dim
    rows = None if vertices is None else torch.tensor(vertices)
    draws = {}
    for per_chunk in (1, 7, n):
        monkeypatch.setattr(sampling, "_STEP_CHUNK_VALUES", per_chunk * rank * dim)
        noise = AcrossNoise(edges, x, rank, torch.Generator().manual_seed(0), max_values)
        draws[per_chunk] = torch.stack([noise(rows) for _ in range(3)])
    expected = len(vertices) if vertices is not None else n
    assert draws[n].shape == (3, expected, dim)
    assert float(draws[n].abs().sum()) > 0
    torch.testing.assert_close(draws[1], draws[n], rtol=0, atol=0)
    torch.testing.assert_close(draws[7], draws[n], rtol=0, atol=0)


class _NoiseLog(Callback):
    """Per epoch: the noise gain, and whether across noise is drawn at all."""

    def __init__(self) -> None:
        self.gains: list[float] = []
        self.across: bool | None = None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.gains.append(float(pl_module._noise_gain))
        self.across = pl_module._across_noise is not None


def test_auto_across_noise_follows_the_number_of_steps(small):
    from glass_box_umap.fitting import ACROSS_MIN_STEPS, across_strength

    assert ACROSS_MIN_STEPS == 1_000
    assert across_strength("auto", 1_600) == 1.0 and across_strength("auto", 999) == 0.0
    assert across_strength(0.25, 10) == 0.25  # a number is used as given
    log = _NoiseLog()
    GlassBoxUMAP(extra_callbacks=[log], **KW).fit(small)  # 24 steps
    assert log.across is False
    log = _NoiseLog()
    GlassBoxUMAP(extra_callbacks=[log], **dict(KW, epochs=2, num_batches=500)).fit(small)
    assert log.across  # 1,000 steps, 64 inputs, 14 neighbours


def test_across_noise_is_drawn_where_a_direction_lies_across(small):
    log = _NoiseLog()
    kw = dict(KW, across_noise=1.5)
    GlassBoxUMAP(extra_callbacks=[log], **kw).fit(small)
    assert log.across  # 64 inputs, 14 neighbours
    # three inputs: every direction is spanned by 14 neighbours, so none is drawn and the
    # fit is the fit without it, bit for bit
    X = np.random.default_rng(0).normal(size=(200, 3))
    log = _NoiseLog()
    with_it = GlassBoxUMAP(extra_callbacks=[log], **kw).fit(X)
    without = GlassBoxUMAP(**dict(kw, across_noise=0.0)).fit(X)
    assert log.across is False
    np.testing.assert_array_equal(with_it.embedding_, without.embedding_)
    # on digits it changes the map, which stays a deterministic forward pass
    off = GlassBoxUMAP(**dict(kw, across_noise=0.0)).fit(small)
    reference = GlassBoxUMAP(**kw).fit(small)
    assert not np.array_equal(reference.embedding_, off.embedding_)
    np.testing.assert_array_equal(reference.transform(small), reference.embedding_)
    assert GlassBoxUMAP().get_params()["across_noise"] == "auto"


@pytest.mark.parametrize(("fraction", "free"), [(0.1, 0), (0.25, 2), (0.0, 0), (1.0, 8)])
def test_the_last_epochs_draw_no_noise(small, fraction, free):
    log = _NoiseLog()
    GlassBoxUMAP(noise_free_fraction=fraction, extra_callbacks=[log], **KW).fit(small)
    # KW trains 8 epochs: int(8 * fraction) of them at the end are noise-free
    assert log.gains == [1.0] * (8 - free) + [0.0] * free


def test_the_default_noise_free_end_is_a_tenth_of_the_epochs(small):
    log = _NoiseLog()
    GlassBoxUMAP(extra_callbacks=[log], **{**KW, "epochs": 20}).fit(small)
    assert log.gains == [1.0] * 18 + [0.0] * 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("across_noise", -0.5), ("across_noise", "always"), ("noise_free_fraction", 1.5)],
)
def test_across_noise_and_the_noise_free_fraction_are_validated(name, value):
    with pytest.raises(ValueError, match=name):
        GlassBoxUMAP(**{name: value}).fit(np.zeros((30, 3)))
