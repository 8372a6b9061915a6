"""baseline_shapley: exact Shapley values by enumerating every coalition of features."""

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from glass_box_umap.attribution import contributions
from glass_box_umap.encoders import MLPEncoder
from glass_box_umap.paths import path_contributions
from glass_box_umap.shapley import (
    MAX_FEATURES,
    TooManyFeaturesError,
    baseline_shapley,
    coalition_values,
    coalition_weights,
)

from .conftest import require_module


def _hand_network() -> nn.Module:
    """Output 0: relu(x0 + x1 - x2); output 1: x0. Bias-free, two pieces in the box."""
    first = nn.Linear(3, 2, bias=False)
    first.weight.data.copy_(torch.tensor([[1.0, 1.0, -1.0], [1.0, 0.0, 0.0]]))
    relu = nn.ReLU()
    second = nn.Linear(2, 2, bias=False)
    second.weight.data.copy_(torch.eye(2))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.relu, self.second = first, relu, second

        def forward(self, x):
            z = self.first(x)
            return self.second(torch.stack([self.relu(z[:, 0]), z[:, 1]], dim=1))

    return Net().eval()


def test_tiny_network_against_values_computed_by_hand():
    # x = (1, 2, 1), r = 0. Output 0, v(S) = relu(sum of S's terms 1, 2, -1):
    # v({}) = 0, v(0) = 1, v(1) = 2, v(2) = 0, v(01) = 3, v(02) = 0, v(12) = 1, v(012) = 2.
    # Weights for d = 3: 1/3 for |S| = 0 and 2, 1/6 for |S| = 1.
    # phi_0 = 1/3 (1 - 0) + 1/6 (3 - 2) + 1/6 (0 - 0) + 1/3 (2 - 1) = 5/6
    # phi_1 = 1/3 (2 - 0) + 1/6 (3 - 1) + 1/6 (1 - 0) + 1/3 (2 - 0) = 11/6
    # phi_2 = 1/3 (0 - 0) + 1/6 (0 - 1) + 1/6 (1 - 2) + 1/3 (2 - 3) = -2/3
    # Output 1 is linear in x0 alone: phi = (1, 0, 0).
    net = _hand_network()
    phi = baseline_shapley(net, [[1.0, 2.0, 1.0]], [0.0, 0.0, 0.0], dtype="float64")
    expected = np.array([[[5 / 6, 11 / 6, -2 / 3], [1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(phi, expected, rtol=0, atol=1e-15)
    # Not the Jacobian at x: there the ReLU is on, so the contributions are (1, 2, -1).
    C, _ = contributions(net, torch.tensor([[1.0, 2.0, 1.0]]))
    np.testing.assert_allclose(C.numpy()[0, 0], [1.0, 2.0, -1.0])
    # The same game against the baseline (1, 2, 1) -> x = 0, each value changes sign.
    back = baseline_shapley(net, [[0.0, 0.0, 0.0]], [1.0, 2.0, 1.0], dtype="float64")
    np.testing.assert_allclose(back, -expected, rtol=0, atol=1e-15)


def test_coalition_weights_of_three_features():
    members, weights = coalition_weights(3)
    assert members.shape == weights.shape == (8, 3)
    np.testing.assert_array_equal(members[0], [False, False, False])
    np.testing.assert_array_equal(members[5], [True, False, True])  # bits 0 and 2
    np.testing.assert_array_equal(members[7], [True, True, True])
    # Coalition {0, 2}: j = 0 or 2 in it, weight of a 1-coalition, 1/6; j = 1 not, -1/3.
    np.testing.assert_allclose(weights[5], [1 / 6, -1 / 3, 1 / 6])
    np.testing.assert_allclose(weights.sum(0), 0, atol=1e-15)
    efficiency = np.zeros(8)
    efficiency[[0, 7]] = [-1, 1]
    np.testing.assert_allclose(weights.sum(1), efficiency, atol=1e-15)


def _by_permutations(f, x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Shapley's definition: marginal contributions averaged over every order, (k, d)."""
    d = x.size
    total = 0
    for order in itertools.permutations(range(d)):
        point = r.copy()
        before = f(point)
        for j in order:
            point[j] = x[j]
            after = f(point)
            total = total + np.outer(after - before, np.eye(d)[j])
            before = after
    return total / math.factorial(d)


def test_equals_the_average_over_every_order_on_a_prelu_network():
    torch.manual_seed(3)
    encoder = MLPEncoder(5, 2, 6, 2).double().eval()
    for m in encoder.modules():
        if isinstance(m, nn.PReLU):
            m.weight.data.uniform_(-1, 1)
    rng = np.random.default_rng(3)
    X, r = rng.normal(size=(3, 5)), rng.normal(size=5)
    phi = baseline_shapley(encoder, X, r, dtype="float64")

    def f(point):
        return encoder(torch.as_tensor(point[None])).detach().numpy()[0]

    for i in range(3):
        np.testing.assert_allclose(phi[i], _by_permutations(f, X[i], r.copy()), atol=1e-13)


@pytest.mark.parametrize("per_sample", [False, True])
def test_linear_map_shapley_values_are_the_contributions(per_sample):
    torch.manual_seed(0)
    linear = nn.Linear(7, 3, bias=False).double().eval()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 7))
    r = rng.normal(size=(5, 7)) if per_sample else np.zeros(7)
    phi = baseline_shapley(linear, X, r, dtype="float64")
    expected = linear.weight.detach().numpy()[None] * (X - r)[:, None]
    np.testing.assert_allclose(phi, expected, rtol=0, atol=1e-14)
    if per_sample:
        path, _ = path_contributions(linear, X, r, dtype="float64")
        np.testing.assert_allclose(phi, path, rtol=0, atol=1e-14)
    else:
        C, _ = contributions(linear, torch.as_tensor(X))
        np.testing.assert_allclose(phi, C.numpy(), rtol=0, atol=1e-14)


def test_efficiency_on_a_prelu_network_and_batching():
    torch.manual_seed(1)
    encoder = MLPEncoder(10, 2, 16, 2).double().eval()
    for m in encoder.modules():
        if isinstance(m, nn.PReLU):
            m.weight.data.uniform_(-1, 1)
    rng = np.random.default_rng(1)
    X, R = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
    phi = baseline_shapley(encoder, X, R, dtype="float64")
    gap = (encoder(torch.as_tensor(X)) - encoder(torch.as_tensor(R))).detach().numpy()
    np.testing.assert_allclose(phi.sum(-1), gap, rtol=0, atol=1e-12 * np.abs(gap).max())
    # The network is not linear over the box: the values are not the path's.
    path, pieces = path_contributions(encoder, X, R, dtype="float64")
    assert pieces.max() > 1
    assert np.abs(phi - path).max() > 1e-3 * np.abs(path).max()
    # One sample per forward pass or all six at once: the same numbers.
    one = baseline_shapley(encoder, X, R, dtype="float64", batch_size=1)
    np.testing.assert_allclose(one, phi, rtol=0, atol=1e-13)
    f32 = baseline_shapley(copy.deepcopy(encoder).float(), X, R)
    assert f32.dtype == np.float32 and f32.shape == (6, 2, 10)
    np.testing.assert_allclose(f32, phi, rtol=0, atol=1e-5 * np.abs(phi).max())


def test_coalition_values_are_the_corners_of_the_box():
    net = _hand_network()
    values = coalition_values(net, [[1.0, 2.0, 1.0]], [0.0, 0.0, 0.0], dtype="float64")
    assert values.shape == (1, 8, 2)
    # Output 0 at coalitions 0 .. 7 (bit j: feature j from x), as in the hand-computed test.
    np.testing.assert_array_equal(values[0, :, 0], [0, 1, 2, 3, 0, 0, 1, 2])
    np.testing.assert_array_equal(values[0, :, 1], [0, 1, 0, 1, 0, 1, 0, 1])
    _, weights = coalition_weights(3)
    phi = baseline_shapley(net, [[1.0, 2.0, 1.0]], [0.0, 0.0, 0.0], dtype="float64")
    np.testing.assert_allclose(np.einsum("nsk,sj->nkj", values, weights), phi, atol=1e-15)


def test_images_are_enumerated_pixel_by_pixel():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 4, bias=False), nn.PReLU(), nn.Linear(4, 2))
    X = torch.randn(2, 1, 2, 3, dtype=torch.float64)
    phi = baseline_shapley(net.double(), X, torch.zeros(1, 2, 3), dtype="float64")
    assert phi.shape == (2, 2, 1, 2, 3)
    flat = baseline_shapley(
        nn.Sequential(*list(net)[1:]), X.reshape(2, 6), np.zeros(6), dtype="float64"
    )
    np.testing.assert_allclose(phi.reshape(2, 2, 6), flat, rtol=0, atol=1e-15)
    gap = (net(X) - net(torch.zeros(1, 1, 2, 3, dtype=torch.float64))).detach().numpy()
    np.testing.assert_allclose(phi.reshape(2, 2, 6).sum(-1), gap, atol=1e-13)


def test_kernel_shap_given_every_coalition_finds_the_same_values():
    shap = require_module("shap")
    torch.manual_seed(4)
    encoder = MLPEncoder(6, 2, 8, 1).double().eval()
    rng = np.random.default_rng(4)
    X, r = rng.normal(size=(2, 6)), rng.normal(size=6)

    def f(rows):
        return encoder(torch.as_tensor(rows)).detach().numpy()

    explainer = shap.KernelExplainer(f, r[None])
    values = explainer.shap_values(X, nsamples=2**6, l1_reg=False, silent=True)
    values = np.asarray(values).reshape(2, 6, 2).transpose(0, 2, 1)
    phi = baseline_shapley(encoder, X, r, dtype="float64")
    np.testing.assert_allclose(values, phi, rtol=0, atol=1e-10)


def test_more_features_than_the_limit_is_a_named_error():
    linear = nn.Linear(MAX_FEATURES + 1, 2, bias=False)
    X = np.zeros((1, MAX_FEATURES + 1))
    with pytest.raises(TooManyFeaturesError, match=r"max_features: .* 17 features .*=16"):
        baseline_shapley(linear, X, X[0])
    assert issubclass(TooManyFeaturesError, ValueError)
    with pytest.raises(TooManyFeaturesError, match="max_features=4"):
        baseline_shapley(nn.Linear(5, 2, bias=False), np.zeros((1, 5)), np.zeros(5), max_features=4)
    # Raised before any forward pass: a module that would fail is never called.
    with pytest.raises(TooManyFeaturesError):
        baseline_shapley(nn.Linear(3, 2), np.zeros((1, 64)), np.zeros(64))


def test_bad_arguments_are_named():
    linear = nn.Linear(3, 2, bias=False)
    X = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"baseline: expected shape \(3,\) .* got \(2,\)"):
        baseline_shapley(linear, X, np.zeros(2))
    with pytest.raises(ValueError, match="X: expected a non-empty batch"):
        baseline_shapley(linear, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="baseline: contains NaN"):
        baseline_shapley(linear, X, [0.0, np.nan, 0.0])
    for name, value in (("batch_size", 0), ("max_features", True), ("dtype", "float16")):
        with pytest.raises(ValueError, match=name):
            baseline_shapley(linear, X, X[0], **{name: value})
    with pytest.raises(TypeError, match="module"):
        baseline_shapley(lambda x: x, X, X[0])
    with pytest.raises(ValueError, match="module: expected an output of shape"):
        baseline_shapley(nn.Flatten(0), X, X[0])
    with pytest.raises(ValueError, match="n_features"):
        coalition_weights(0)
