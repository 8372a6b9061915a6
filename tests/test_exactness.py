"""check_exactness and scan_encoder; property tests over random exact architectures."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from glass_box_umap.encoders import ConvEncoder, MLPEncoder, ResidualEncoder
from glass_box_umap.encoders.layers import Conv2d, Linear, Residual, ScaleNorm
from glass_box_umap.exactness import (
    DEFAULT_RTOL,
    ExactnessReport,
    check_exactness,
    scan_encoder,
)

from .conftest import forward64

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _activation(kind: str, width: int) -> nn.Module:
    if kind == "prelu":
        act = nn.PReLU(width)
        act.weight.data.uniform_(-1, 1)  # negative slopes are still homogeneous
        return act
    return nn.LeakyReLU(0.1) if kind == "leaky" else nn.ReLU()


def _scale_norm(width: int) -> ScaleNorm:
    norm = ScaleNorm(width)
    norm.running_ms.uniform_(0.1, 4.0)
    norm.weight.data.uniform_(0.5, 2.0)
    return norm


@st.composite
def exact_networks(draw):
    """A random exact network and a batch of inputs for it (conv, pool, skip, norm mixes)."""
    seed = draw(st.integers(0, 2**31 - 1))
    torch.manual_seed(seed)
    acts = st.sampled_from(["prelu", "leaky", "relu"])
    layers: list[nn.Module] = []
    if draw(st.booleans()):  # images
        c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
        shape = (c, h, w)
        for block in draw(st.lists(st.sampled_from(["conv", "skip", "pool", "norm"]), max_size=4)):
            if block == "conv":
                out, k = draw(st.integers(1, 6)), draw(st.sampled_from([1, 3]))
                layers += [Conv2d(c, out, k, padding=k // 2), _activation(draw(acts), out)]
                c = out
            elif block == "skip":
                body = nn.Sequential(
                    _activation(draw(acts), c), Conv2d(c, c, 3, padding=1), Conv2d(c, c, 1)
                )
                layers.append(Residual(body))
            elif block == "pool":
                pool = nn.MaxPool2d if draw(st.booleans()) else nn.AvgPool2d
                layers.append(pool(2, ceil_mode=True))
                h, w = math.ceil(h / 2), math.ceil(w / 2)
            else:
                layers.append(_scale_norm(c))
        layers.append(nn.Flatten())
        width = c * h * w
    else:
        shape = (draw(st.integers(1, 20)),)
        width = shape[0]
    for block in draw(st.lists(st.sampled_from(["dense", "skip", "norm", "dropout"]), max_size=4)):
        if block == "dense":
            out = draw(st.integers(1, 24))
            layers += [Linear(width, out), _activation(draw(acts), out)]
            width = out
        elif block == "skip":
            out = draw(st.integers(1, 24))
            body = nn.Sequential(Linear(width, out), _activation(draw(acts), out))
            layers.append(Residual(body, shortcut=Linear(width, out)))
            width = out
        elif block == "norm":
            layers.append(_scale_norm(width))
        else:
            layers.append(nn.Dropout(0.5))
    layers.append(Linear(width, draw(st.integers(1, 4))))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    x = torch.randn(draw(st.integers(1, 24)), *shape, dtype=torch.float64) * scale
    return nn.Sequential(*layers), x


@PROPERTY
@given(exact_networks())
def test_random_exact_architectures_reconstruct_in_float64(net_and_x):
    net, x = net_and_x
    report = check_exactness(net, x, torch.float64)
    assert report.max_rel_error <= 1e-12, str(report)
    assert report.exact and not report.culprits


# Float32 errors reach ~3e-6 (worst of 1500 random networks) against the 1e-5 bound: a
# fixed set of examples keeps that margin from turning into a rare flaky failure.
@settings(PROPERTY, derandomize=True)
@given(exact_networks())
def test_random_exact_architectures_reconstruct_in_float32(net_and_x):
    net, x = net_and_x
    report = check_exactness(net, x.float(), torch.float32)
    assert report.max_rel_error <= 1e-5, str(report)
    assert report.exact


@pytest.mark.parametrize(
    ("encoder", "shape"),
    [
        (MLPEncoder(64, 2), (64,)),
        (MLPEncoder((1, 8, 8), 3), (1, 8, 8)),
        (ConvEncoder((1, 8, 8), 2), (1, 8, 8)),
        (ConvEncoder((3, 7, 5), 2, channels=(4, 4, 4), pool="avg"), (3, 7, 5)),
        (ConvEncoder((9, 9), 2, pool=None, n_hidden_layers=0), (9, 9)),
        (ResidualEncoder(30, 2, n_blocks=3), (30,)),
    ],
)
def test_shipped_encoders_are_exact(encoder, shape):
    torch.manual_seed(0)
    x = torch.randn(64, *shape)
    r64 = check_exactness(encoder, x)
    r32 = check_exactness(encoder, x, "float32")
    assert r64.max_rel_error <= 1e-12 and r64.exact
    assert r32.max_rel_error <= 1e-5 and r32.exact
    assert scan_encoder(encoder) == []


NON_EXACT = {
    "bias": (
        nn.Sequential(nn.Linear(6, 8), nn.PReLU(), nn.Linear(8, 2, bias=False)),
        [("0.bias", "bias")],
    ),
    "tanh": (
        nn.Sequential(nn.Linear(6, 8, bias=False), nn.Tanh(), nn.Linear(8, 2, bias=False)),
        [("1", "smooth activation")],
    ),
    "layernorm": (
        nn.Sequential(nn.Linear(6, 8, bias=False), nn.LayerNorm(8), nn.Linear(8, 2, bias=False)),
        [("1", "normalisation")],
    ),
    "relu6": (
        nn.Sequential(nn.Linear(6, 8, bias=False), nn.ReLU6(), nn.Linear(8, 2, bias=False)),
        [("1", "saturating activation")],
    ),
}


@pytest.mark.parametrize("name", list(NON_EXACT))
def test_non_exact_encoders_are_flagged_with_their_culprit(name):
    net, expected = NON_EXACT[name]
    torch.manual_seed(0)
    with torch.no_grad():
        for m in net.modules():  # move LayerNorm off its identity init: a real shift
            if isinstance(m, nn.LayerNorm):
                m.bias.uniform_(-1, 1)
    report = check_exactness(net, torch.randn(200, 6) * 3)
    assert not report.exact
    assert [(f.path, f.kind) for f in report.culprits] == expected
    if name != "relu6":  # ReLU6 is exact below 6: data of scale 3 rarely reaches it
        assert report.max_rel_error > 1e-3
    assert expected[0][0] in report.verdict and "NOT exact" in report.verdict


def test_batchnorm_and_attention_are_named_by_the_scan():
    net = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4), nn.MultiheadAttention(4, 2))
    kinds = [(f.path, f.kind) for f in scan_encoder(net)]
    assert kinds == [("1", "normalisation"), ("2", "attention")]


def test_zero_bias_is_flagged_only_while_trainable():
    net = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    nn.init.zeros_(net[0].bias)
    report = check_exactness(net, torch.randn(50, 5))
    # Exact today, but training would move the bias: the verdict says no.
    assert report.max_rel_error <= 1e-12
    assert not report.exact and [f.path for f in report.culprits] == ["0.bias"]
    net[0].bias.requires_grad_(False)
    assert check_exactness(net, torch.randn(50, 5)).exact


def test_unknown_leaf_layers_are_listed_but_do_not_fail():
    class Double(nn.Module):
        def forward(self, x):
            return 2 * x

    net = nn.Sequential(nn.Linear(5, 3, bias=False), Double(), nn.Linear(3, 2, bias=False))
    report = check_exactness(net, torch.randn(20, 5))
    assert report.exact and report.culprits == []
    assert [(f.path, f.kind) for f in report.findings] == [("1", "unchecked layer")]


def test_functional_offset_is_caught_numerically():
    class Shifted(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 2, bias=False)

        def forward(self, x):
            return self.lin(x) + 0.5

    report = check_exactness(Shifted(), torch.randn(30, 5))
    assert not report.exact and report.findings == ()
    assert "forward()" in report.verdict


def test_report_fields_and_worst_samples():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2, bias=False))
    x = torch.randn(100, 4)
    report = check_exactness(net, x, n_worst=3)
    assert isinstance(report, ExactnessReport)
    assert report.n_samples == 100 and report.rtol == DEFAULT_RTOL[torch.float64]
    assert report.dtype == torch.float64
    assert report.worst_samples.shape == (3,)
    assert np.all(np.diff(report.worst_rel_errors) <= 0)
    assert report.worst_rel_errors[0] == report.max_rel_error
    assert report.mean_rel_error <= report.max_rel_error
    assert report.mean_abs_error <= report.max_abs_error
    # The worst sample's error, recomputed by hand.
    i = int(report.worst_samples[0])
    xi = x[i : i + 1].double().requires_grad_(True)
    net64 = net.double()
    out = net64(xi)
    jac = torch.stack([torch.autograd.grad(out[0, k], xi, retain_graph=True)[0][0] for k in (0, 1)])
    contrib = jac * xi[0].detach()
    err = (contrib.sum(-1) - out[0].detach()).abs().max() / contrib.abs().sum(-1).max()
    assert report.max_rel_error == pytest.approx(float(err), rel=1e-9)
    text = str(report)
    assert "verdict" in text and "rtol 1e-10" in text and "0.bias" in text


def test_float32_default_tolerance_and_custom_rtol():
    net = MLPEncoder(10, 2)
    x = torch.randn(40, 10)
    assert check_exactness(net, x, "float32").rtol == 1e-4
    assert check_exactness(net, x, "float32", rtol=0.5).rtol == 0.5
    with pytest.raises(ValueError, match="rtol"):
        check_exactness(net, x, rtol=-1)
    with pytest.raises(ValueError, match="dtype"):
        check_exactness(net, x, dtype="float16")
    with pytest.raises(TypeError, match="reducer_or_encoder"):
        check_exactness("net", x)


def test_check_leaves_the_module_untouched():
    net = nn.Sequential(Linear(6, 4), nn.PReLU(), nn.Dropout(0.5), Linear(4, 2)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    check_exactness(net, np.random.default_rng(0).normal(size=(20, 6)))
    assert net.training and all(v.dtype == torch.float32 for v in net.state_dict().values())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_scale_norm_learns_statistics_and_is_a_constant_scale_in_eval():
    torch.manual_seed(0)
    norm = ScaleNorm(3, momentum=1.0)
    x = torch.randn(500, 3, 4, 4) * torch.tensor([1.0, 2.0, 4.0]).view(1, 3, 1, 1)
    norm.train()(x)
    np.testing.assert_allclose(norm.running_ms, x.pow(2).mean((0, 2, 3)), rtol=1e-6)
    norm.eval()
    # Samples do not interact in eval: one sample alone gives the same output.
    with torch.no_grad():
        assert torch.equal(norm(x[:1]), norm(x)[:1])
    assert check_exactness(norm_net := nn.Sequential(norm, nn.Flatten(), Linear(48, 2)), x).exact
    assert scan_encoder(norm_net) == []


def test_check_exactness_on_fitted_reducers(fitted, fitted_pca, digits):
    X, _ = digits
    for reducer in (fitted, fitted_pca):
        report = check_exactness(reducer, X[:100])
        assert report.n_samples == 100
        assert report.max_rel_error <= 1e-12 and report.exact
    with pytest.raises(ValueError, match="X has 63 features"):
        check_exactness(fitted, X[:10, :63])


class _HiddenKink(nn.Module):
    """Bias-free and homogeneous, so fit sees nothing wrong; but its kinks are functions
    in ``forward`` (``torch.abs``, ``F.relu``, ``F.gelu``), which the path walk's layer
    hooks cannot see (issue 22, item 6)."""

    function = staticmethod(torch.abs)

    def __init__(self, input_dims, n_components, hidden_size=32):
        super().__init__()
        self.first = nn.Linear(input_dims, hidden_size, bias=False)
        self.second = nn.Linear(hidden_size, hidden_size, bias=False)
        self.out = nn.Linear(hidden_size, n_components, bias=False)

    def forward(self, x):
        return self.out(self.function(self.second(self.function(self.first(x)))))


class AbsInForward(_HiddenKink):
    function = staticmethod(torch.abs)


class ReluInForward(_HiddenKink):
    function = staticmethod(torch.nn.functional.relu)


class GeluInForward(_HiddenKink):
    function = staticmethod(torch.nn.functional.gelu)


@pytest.fixture(scope="module")
def hidden_kink_models(wine):
    import warnings

    from glass_box_umap import GlassBoxUMAP, register_encoder, unregister_encoder

    X, _ = wine
    models = {}
    for cls in (AbsInForward, ReluInForward, GeluInForward):
        register_encoder(cls.__name__)(cls)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # GELU's ExactnessWarning at fit
                reducer = GlassBoxUMAP(
                    n_neighbors=5,
                    epochs=3,
                    num_batches=2,
                    encoder_name=cls.__name__,
                    random_state=0,
                    quiet=True,
                )
                models[cls.__name__] = reducer.fit(X)
        finally:
            unregister_encoder(cls.__name__)
    return models, X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["AbsInForward", "ReluInForward", "GeluInForward"])
def test_kinks_hidden_in_forward_are_named_when_the_sum_misses(hidden_kink_models, name, dtype):
    models, X = hidden_kink_models
    reducer = models[name]
    if name == "GeluInForward" and dtype == "float64":
        # Smooth: ever shorter pieces; the step budget is the user's to set, and its
        # error names the encoder.
        with pytest.raises(RuntimeError, match=f"max_steps: .* encoder {name} is piecewise"):
            reducer.compute_contributions(X[:4], baseline=X[100], dtype=dtype, max_steps=50)
        return
    with pytest.warns(RuntimeWarning, match=f"encoder {name} holds a non-linearity") as record:
        phi = reducer.compute_contributions(X[:20], baseline=X[100], dtype=dtype)
    emb = forward64(reducer, X)
    gap = emb[:20] - emb[100]
    error = np.abs(phi.astype(np.float64).sum(-1) - gap).max() / np.abs(gap).max()
    # The warning is not a false alarm: the sum does miss the documented bound.
    assert error > {"float32": 1e-5, "float64": 1e-13}[dtype], error
    assert len([w for w in record if issubclass(w.category, RuntimeWarning)]) == 1


def test_max_steps_is_checked(hidden_kink_models):
    models, X = hidden_kink_models
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="max_steps: expected an integer >= 1"):
            models["AbsInForward"].compute_contributions(X[:2], baseline=X[0], max_steps=bad)
