"""path_contributions: exact attributions against any reference, along straight paths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from glass_box_umap import GlassBoxUMAP
from glass_box_umap.attribution import contributions
from glass_box_umap.encoders import ConvEncoder, MLPEncoder, ResidualEncoder
from glass_box_umap.model import RawInputMap
from glass_box_umap.paths import fitted_map, path_contributions

from .conftest import FAST, forward64

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _one_thread():
    """The walk is many small batched passes: one thread, so that a busy CPU does not
    turn thread hand-offs into most of the time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomise_slopes(encoder: nn.Module) -> nn.Module:
    """PReLU slopes anywhere in [-1, 1], so paths cross kinks of every kind."""
    for module in encoder.modules():
        if isinstance(module, nn.PReLU):
            module.weight.data.uniform_(-1, 1)
    return encoder.eval()


@st.composite
def shipped_encoders(draw):
    """A shipped encoder of random size, inputs X and a baseline (shared or per sample)."""
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    kind = draw(st.sampled_from(["mlp", "residual", "conv"]))
    n_components = draw(st.integers(1, 3))
    width = draw(st.integers(2, 16))
    if kind == "mlp":
        shape = (draw(st.integers(1, 12)),)
        encoder = MLPEncoder(shape, n_components, width, draw(st.integers(0, 3)))
    elif kind == "residual":
        shape = (draw(st.integers(1, 12)),)
        encoder = ResidualEncoder(shape, n_components, width, draw(st.integers(0, 2)))
    else:
        shape = (draw(st.integers(1, 2)), draw(st.integers(2, 7)), draw(st.integers(2, 7)))
        channels = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
        pool = draw(st.sampled_from(["max", "avg", None]))
        encoder = ConvEncoder(
            shape, n_components, channels, pool=pool, hidden_size=width, n_hidden_layers=1
        )
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    n = draw(st.integers(1, 8))
    X = torch.randn(n, *shape, dtype=torch.float64) * scale
    shared = draw(st.booleans())
    baseline = torch.randn(*((() if shared else (n,)) + shape), dtype=torch.float64) * scale
    return _randomise_slopes(encoder), X, baseline


def _gap_error(module, X, baseline, dtype):
    """Largest |sum_j phi - (g(X) - g(baseline))| per sample, relative, and the pieces.

    Relative to ``max_k (|g(x)_k| + |g(r)_k| + sum_j |phi_kj|)``: what rounding in the
    two forward passes and in the sum of the contributions is of the order of.
    """
    phi, pieces = path_contributions(module, X, baseline, dtype=dtype)
    model = module.to(dtype)
    r = baseline.to(dtype).expand_as(X)
    with torch.no_grad():
        gx, gr = model(X.to(dtype)).double(), model(r).double()
    phi = torch.as_tensor(phi).double().flatten(2)
    err = (phi.sum(-1) - (gx - gr)).abs().amax(1)
    scale = (gx.abs() + gr.abs() + phi.abs().sum(-1)).amax(1)
    return float((err / scale).max()), pieces


@PROPERTY
@given(shipped_encoders())
def test_contributions_add_up_to_the_difference_in_float64(case):
    encoder, X, baseline = case
    rel, pieces = _gap_error(encoder, X, baseline, torch.float64)
    assert rel <= 1e-12
    assert pieces.shape == (X.shape[0],) and (pieces >= 1).all()


@settings(PROPERTY, derandomize=True)
@given(shipped_encoders())
def test_contributions_add_up_to_the_difference_in_float32(case):
    encoder, X, baseline = case
    rel, _ = _gap_error(encoder, X.float(), baseline.float(), torch.float32)
    assert rel <= 1e-5


ENCODERS = {
    "mlp": (lambda: MLPEncoder(6, 2, hidden_size=16), (6,)),
    "residual": (lambda: ResidualEncoder(5, 2, hidden_size=12), (5,)),
    "conv-max": (lambda: ConvEncoder((1, 6, 6), 2, channels=(4, 3), hidden_size=16), (1, 6, 6)),
    "conv-avg": (lambda: ConvEncoder((2, 5, 4), 3, channels=(3,), pool="avg"), (2, 5, 4)),
}


@pytest.mark.parametrize("name", list(ENCODERS))
def test_from_the_origin_equals_the_ordinary_contributions(name):
    # Bias-free encoders are positively homogeneous: the ray from 0 lies in one piece.
    build, shape = ENCODERS[name]
    torch.manual_seed(0)
    encoder = _randomise_slopes(build()).double()
    X = torch.randn(10, *shape, dtype=torch.float64)
    phi, pieces = path_contributions(encoder, X, torch.zeros(shape), dtype="float64")
    expected, _ = contributions(encoder, X)
    np.testing.assert_allclose(phi, expected.numpy(), rtol=0, atol=1e-12 * np.abs(phi).max())
    assert (pieces == 1).all()


@pytest.mark.parametrize("name", list(ENCODERS))
def test_baseline_equal_to_x_gives_zeros(name):
    build, shape = ENCODERS[name]
    torch.manual_seed(1)
    X = torch.randn(5, *shape)
    phi, pieces = path_contributions(_randomise_slopes(build()), X, X)
    assert phi.shape == (5, phi.shape[1], *shape) and phi.dtype == np.float32
    assert (phi == 0).all() and (pieces == 1).all()


def _relu_net(weight, bias, out_weight):
    """``out_weight * relu(weight . x + bias)``: one kink, where we want it."""
    net = nn.Sequential(nn.Linear(len(weight), 1), nn.ReLU(), nn.Linear(1, 1, bias=False))
    net[0].weight.data = torch.tensor([weight], dtype=torch.float64)
    net[0].bias.data = torch.tensor([bias], dtype=torch.float64)
    net[2].weight.data = torch.tensor([[out_weight]], dtype=torch.float64)
    return net.double()


def test_a_kink_by_hand():
    # g(x) = 2 relu(x1 + x2 - 1) from r = (0, 0) to x = (1, 2): s(t) = 3t - 1 crosses 0 at
    # t = 1/3, after which J = (2, 2). phi_j = d_j * 2 * (2/3): (4/3, 8/3); g(x) - g(r) = 4.
    net = _relu_net([1.0, 1.0], -1.0, 2.0)
    phi, pieces = path_contributions(net, [[1.0, 2.0]], [0.0, 0.0], dtype="float64")
    np.testing.assert_allclose(phi, [[[4 / 3, 8 / 3]]], rtol=1e-14)
    assert pieces.tolist() == [2]
    # Reversed, the sign flips and the same pieces are crossed.
    back, pieces = path_contributions(net, [[0.0, 0.0]], [1.0, 2.0], dtype="float64")
    np.testing.assert_allclose(back, -phi, rtol=1e-14)
    assert pieces.tolist() == [2]


def test_a_max_pool_switch_by_hand():
    # g(x) = max(x1, x2) from r = (1, 0) to x = (0, 1): the choice switches at t = 1/2,
    # so J = (1, 0) then (0, 1), averaging (1/2, 1/2); d = (-1, 1): phi = (-1/2, 1/2).
    net = nn.Sequential(nn.Unflatten(1, (1, 2)), nn.MaxPool1d(2), nn.Flatten())
    phi, pieces = path_contributions(net, [[0.0, 1.0]], [1.0, 0.0], dtype="float64")
    np.testing.assert_allclose(phi, [[[-0.5, 0.5]]], rtol=1e-14)
    assert pieces.tolist() == [2]


def test_one_baseline_per_sample():
    torch.manual_seed(2)
    encoder = _randomise_slopes(MLPEncoder(4, 2, hidden_size=8)).double()
    X = torch.randn(6, 4, dtype=torch.float64)
    B = torch.randn(6, 4, dtype=torch.float64)
    phi, pieces = path_contributions(encoder, X.numpy(), B.numpy(), dtype="float64")
    with torch.no_grad():
        gap = (encoder(X) - encoder(B)).numpy()
    np.testing.assert_allclose(phi.sum(-1), gap, rtol=0, atol=1e-12 * np.abs(gap).max())
    for i in range(6):  # the same as one walk per sample
        one, count = path_contributions(encoder, X[i : i + 1], B[i], dtype="float64")
        np.testing.assert_allclose(one[0], phi[i], rtol=0, atol=1e-13)
        assert count[0] == pieces[i]


def test_generic_piecewise_linear_layers_with_biases():
    # Biases, ReLU6 / Hardtanh (kinks away from 0), Softshrink, LeakyReLU, BatchNorm in eval.
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Linear(5, 12),
        nn.ReLU6(),
        nn.Linear(12, 12),
        nn.BatchNorm1d(12),
        nn.Hardtanh(-0.5, 0.7),
        nn.Linear(12, 12),
        nn.Softshrink(0.2),
        nn.Linear(12, 8),
        nn.LeakyReLU(0.3),
        nn.Linear(8, 2),
    ).double()
    net[3].running_mean.uniform_(-1, 1)
    net.eval()
    X, B = torch.randn(20, 5, dtype=torch.float64) * 3, torch.randn(5, dtype=torch.float64)
    rel, pieces = _gap_error(net, X, B, torch.float64)
    assert rel <= 1e-12 and pieces.max() > 1


def test_overlapping_and_adaptive_max_pools():
    # Windows that share inputs (stride 1, padding), adaptive windows, 1-D and 3-D pools.
    torch.manual_seed(6)
    net = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, bias=False),
        nn.PReLU(3),
        nn.MaxPool2d(3, stride=1, padding=1),
        nn.Conv2d(3, 4, 3, bias=False),
        nn.RReLU(),
        nn.AdaptiveMaxPool2d((2, 3)),
        nn.Unflatten(1, (1, 4)),
        nn.MaxPool3d((2, 1, 2), stride=1),
        nn.Flatten(),
        nn.Unflatten(1, (1, -1)),
        nn.MaxPool1d(2, ceil_mode=True),
        nn.Flatten(),
        nn.LazyLinear(2),
    ).double()
    net(torch.zeros(1, 2, 7, 6, dtype=torch.float64))
    net.eval()
    X, B = torch.randn(10, 2, 7, 6, dtype=torch.float64), torch.randn(2, 7, 6).double()
    rel, pieces = _gap_error(net, X, B, torch.float64)
    assert rel <= 1e-12 and pieces.max() > 1


class _FunctionalReLU(nn.Module):
    """A kink no module shows: ``F.relu`` in forward. The linearity check finds it."""

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 16), nn.Linear(16, 2)

    def forward(self, x):
        return self.second(F.relu(self.first(x)))


def test_a_kink_in_forward_is_found_by_bisection():
    torch.manual_seed(4)
    net = _FunctionalReLU().double().eval()
    X, B = torch.randn(8, 4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    rel, pieces = _gap_error(net, X, B, torch.float64)
    assert rel <= 1e-10 and pieces.max() > 1


class _FunctionalTanh(_FunctionalReLU):
    def forward(self, x):
        return self.second(torch.tanh(self.first(x)))


def test_smooth_maps_are_refused_or_stopped():
    with pytest.raises(ValueError, match=r"module: .*Tanh at 1"):
        path_contributions(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), np.ones((2, 3)), [0] * 3)
    with pytest.raises(ValueError, match="module: .*LayerNorm"):
        path_contributions(nn.Sequential(nn.LayerNorm(3)), np.ones((2, 3)), [0] * 3)
    # Hidden in forward, a smooth map needs ever shorter pieces: max_steps stops the walk.
    with pytest.raises(RuntimeError, match="max_steps: a path needed more than 30 probes"):
        path_contributions(
            _FunctionalTanh(), np.full((2, 4), 3.0), [0] * 4, dtype="float64", max_steps=30
        )


def test_bad_arguments_are_named():
    encoder = MLPEncoder(3, 2).eval()
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"baseline: expected shape \(3,\) .* got \(2,\)"):
        path_contributions(encoder, X, np.zeros(2))
    with pytest.raises(ValueError, match="baseline: .* got \\(3, 3\\)"):
        path_contributions(encoder, X, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="X: expected a non-empty batch"):
        path_contributions(encoder, np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="baseline: contains NaN"):
        path_contributions(encoder, X, [0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="dtype"):
        path_contributions(encoder, X, np.zeros(3), dtype="float16")
    with pytest.raises(ValueError, match="batch_size"):
        path_contributions(encoder, X, np.zeros(3), batch_size=0)
    with pytest.raises(TypeError, match="module"):
        path_contributions(lambda x: x, X, np.zeros(3))


def test_the_module_is_left_as_it_was():
    encoder = MLPEncoder(3, 2)
    encoder.train()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    path_contributions(encoder, np.ones((2, 3)), np.zeros(3), dtype="float64")
    assert encoder.training
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    assert all("forward" not in vars(m) for m in encoder.modules())


def test_batches_give_the_same_answer():
    torch.manual_seed(5)
    encoder = _randomise_slopes(ResidualEncoder(4, 2, hidden_size=8))
    X = torch.randn(7, 4)
    whole, pieces = path_contributions(encoder, X, torch.zeros(4) + 0.5)
    parts, counts = path_contributions(encoder, X, torch.zeros(4) + 0.5, batch_size=3)
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6)
    assert (counts == pieces).all()


def test_fitted_map_explains_a_reducer_against_any_sample(fitted_pca, digits):
    X = digits[0][:30]
    model = fitted_map(fitted_pca, "float64")
    assert isinstance(model, RawInputMap) and model.map.projection is not None
    np.testing.assert_allclose(
        fitted_map(fitted_pca)(torch.as_tensor(X)).detach().numpy(),
        fitted_pca.transform(X),
        rtol=0,
        atol=1e-5 * np.abs(fitted_pca.transform(X)).max(),
    )
    # Against the mean, the path is a ray from the origin of the encoder's input: the
    # ordinary contributions.
    phi, pieces = path_contributions(model, X, fitted_pca.mean_, dtype="float64")
    ordinary = fitted_pca.compute_contributions(X, dtype="float64")
    np.testing.assert_allclose(phi, ordinary, rtol=0, atol=1e-12 * np.abs(ordinary).max())
    # One piece; or two, where a unit nearly parallel to the path has its crossing, at
    # t = 0, placed by rounding just beyond the merging threshold.
    assert pieces.max() <= 2 and (pieces == 1).mean() >= 0.9
    # Against sample 0: the differences of positions, in raw features.
    phi, pieces = path_contributions(model, X, X[0], dtype="float64")
    with torch.no_grad():
        emb = model(torch.as_tensor(X, dtype=torch.float64)).numpy()
    gap = emb - emb[0]
    np.testing.assert_allclose(phi.sum(-1), gap, rtol=0, atol=1e-12 * np.abs(emb).max())
    assert pieces[0] == 1 and pieces[1:].min() > 1
    with pytest.raises(ValueError, match="reducer: expected a fitted GlassBoxUMAP"):
        fitted_map(object())


#: Raw units: wine as it comes (proline ~750 beside features ~0.1), and with large offsets.
RAW_UNITS = {
    "raw": lambda X: X,
    "offset-1e4": lambda X: X * 0.1 + 1e4,
    "tiny-spread-offset-1e4": lambda X: X * 1e-3 + 1e4,
}


@pytest.fixture(scope="module", params=list(RAW_UNITS))
def raw_wine_model(request):
    from sklearn.datasets import load_wine

    X = RAW_UNITS[request.param](load_wine().data)
    return GlassBoxUMAP(n_neighbors=5, random_state=0, **FAST).fit(X), X


def test_raw_units_add_up_in_float32(raw_wine_model):
    # Centring raw samples in float32 inside the walk missed by 1.2e-4 (raw wine) to
    # 1.6e-3 (offset 1e4) of the largest gap (issue 22, item 5).
    reducer, X = raw_wine_model
    phi = reducer.compute_contributions(X[:50], baseline=X[100])
    assert phi.dtype == np.float32
    emb = reducer.transform(X).astype(np.float64)
    gap = emb[:50] - emb[100]
    assert np.abs(phi.astype(np.float64).sum(-1) - gap).max() <= 1e-5 * np.abs(gap).max()
    walked, _ = path_contributions(fitted_map(reducer), X[:50], X[100])
    np.testing.assert_array_equal(walked, phi)


def test_raw_units_add_up_in_float64(raw_wine_model):
    reducer, X = raw_wine_model
    phi = reducer.compute_contributions(X[:50], baseline=X[100], dtype="float64")
    emb = forward64(reducer, X)
    gap = emb[:50] - emb[100]
    assert np.abs(phi.sum(-1) - gap).max() <= 1e-12 * np.abs(gap).max()
    # Against the mean, the path is a ray from the origin: the ordinary contributions.
    phi, pieces = path_contributions(
        fitted_map(reducer, "float64"), X[:20], reducer.mean_, dtype="float64"
    )
    ordinary = reducer.compute_contributions(X[:20], dtype="float64")
    np.testing.assert_allclose(phi, ordinary, rtol=0, atol=1e-12 * np.abs(ordinary).max())
