"""The encoder registry, the shipped encoders, image input and ``encoder=`` in the estimator."""

import copy
import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from glass_box_umap import GlassBoxUMAP, available_encoders, register_encoder
from glass_box_umap.encoders import (
    ConvEncoder,
    MLPEncoder,
    ResidualEncoder,
    build_encoder,
    get_encoder_class,
    unregister_encoder,
)
from glass_box_umap.exactness import ExactnessWarning

from .conftest import FAST

TINY = dict(FAST, epochs=2)


class Tiny(nn.Module):
    """A user's exact encoder: bias-free linear, ReLU, bias-free linear."""

    def __init__(self, input_dims, n_components, width=8):
        super().__init__()
        self.a = nn.Linear(input_dims, width, bias=False)
        self.b = nn.Linear(width, n_components, bias=False)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


@pytest.fixture
def registry():
    """Names registered by a test are removed afterwards."""
    before = set(available_encoders())
    yield
    for name in set(available_encoders()) - before:
        unregister_encoder(name)


@pytest.fixture(scope="module")
def images(digits):
    X, y = digits
    return X[:300].reshape(-1, 1, 8, 8), y[:300]


@pytest.fixture(scope="module")
def fitted_conv(images):
    X, _ = images
    return GlassBoxUMAP(encoder_name="conv", random_state=0, **FAST).fit(X)


# ---------------------------------------------------------------- registry
def test_shipped_encoders_are_registered():
    assert {"default", "conv", "residual"} <= set(available_encoders())
    assert get_encoder_class("default") is MLPEncoder
    assert get_encoder_class("conv") is ConvEncoder
    assert get_encoder_class("residual") is ResidualEncoder


def test_register_unregister_and_reregister(registry):
    assert register_encoder("tiny")(Tiny) is Tiny
    assert "tiny" in available_encoders()
    register_encoder("tiny")(Tiny)  # the same class again: a no-op
    enc = build_encoder("tiny", 5, 2, {"width": 3})
    assert isinstance(enc, Tiny) and enc.a.weight.shape == (3, 5)
    unregister_encoder("tiny")
    assert "tiny" not in available_encoders()
    with pytest.raises(ValueError, match="no encoder registered as 'tiny'"):
        unregister_encoder("tiny")
    with pytest.raises(ValueError, match="shipped"):
        unregister_encoder("default")


def test_duplicate_name_is_refused_unless_same_class(registry):
    register_encoder("tiny")(Tiny)

    class Other(nn.Module):
        def __init__(self, input_dims, n_components):
            super().__init__()

    with pytest.raises(ValueError, match=r"'tiny'.*already taken by .*Tiny"):
        register_encoder("tiny")(Other)
    with pytest.raises(ValueError, match="already taken"):
        register_encoder("default")(Other)

    # A class of the same qualified name (a re-run notebook cell) replaces the entry.
    redefined = type("Tiny", (Tiny,), {"__module__": Tiny.__module__, "__qualname__": "Tiny"})
    register_encoder("tiny")(redefined)
    assert get_encoder_class("tiny") is redefined


def test_register_checks_the_constructor_contract(registry):
    class NoComponents(nn.Module):
        def __init__(self, input_dims):
            super().__init__()

    class NoArgs(nn.Module):
        def __init__(self):
            super().__init__()

    class RequiredExtra(nn.Module):
        def __init__(self, input_dims, n_components, depth):
            super().__init__()

    class KeywordOnly(nn.Module):
        def __init__(self, *, input_dims, n_components):
            super().__init__()

    with pytest.raises(TypeError, match="no positional argument for n_components"):
        register_encoder("x")(NoComponents)
    with pytest.raises(TypeError, match="no positional argument for input_dims"):
        register_encoder("x")(NoArgs)
    with pytest.raises(TypeError, match="argument 'depth' has no default"):
        register_encoder("x")(RequiredExtra)
    with pytest.raises(TypeError, match="input_dims"):
        register_encoder("x")(KeywordOnly)
    with pytest.raises(TypeError, match="nn.Module subclass"):
        register_encoder("x")(lambda input_dims, n_components: nn.Identity())
    with pytest.raises(ValueError, match="name"):
        register_encoder("")
    assert "x" not in available_encoders()


def test_unknown_name_and_bad_kwargs_are_named():
    with pytest.raises(ValueError, match=r"encoder_name: unknown encoder 'nope'.*'conv'"):
        get_encoder_class("nope")
    with pytest.raises(TypeError, match=r"encoder_kwargs: not accepted by encoder 'conv'"):
        build_encoder("conv", (1, 8, 8), 2, {"width": 3})
    with pytest.raises(ValueError, match=r"encoder_name='conv'.*pool: expected"):
        build_encoder("conv", (1, 8, 8), 2, {"pool": "median"})
    with pytest.raises(ValueError, match=r"input_dims: the conv encoder needs images"):
        build_encoder("conv", 64, 2, {})
    with pytest.raises(ValueError, match="kernel_size: must be odd"):
        ConvEncoder((1, 8, 8), 2, kernel_size=2)
    with pytest.raises(ValueError, match="n_blocks"):
        ResidualEncoder(5, 2, n_blocks=-1)


# ---------------------------------------------------------------- shipped encoders
@pytest.mark.parametrize(
    ("encoder", "shape"),
    [
        (MLPEncoder((1, 8, 8), 2), (1, 8, 8)),
        (ConvEncoder((1, 8, 8), 2), (1, 8, 8)),
        (ConvEncoder((3, 7, 9), 3, channels=(4, 4, 4), pool="avg"), (3, 7, 9)),
        (ConvEncoder((5, 5), 2, pool=None), (5, 5)),
        (ResidualEncoder(10, 4, n_blocks=0), (10,)),
        (ResidualEncoder((2, 5), 2), (2, 5)),
    ],
)
def test_encoder_output_shapes(encoder, shape):
    assert encoder(torch.randn(7, *shape)).shape[0] == 7
    assert encoder(torch.randn(7, *shape)).ndim == 2


def test_conv_encoder_layers_are_bias_free_and_pool_as_asked():
    enc = ConvEncoder((1, 8, 8), 2, channels=(4, 6), pool="avg")
    assert all(p is None for m in enc.modules() for p in [getattr(m, "bias", None)])
    assert sum(isinstance(m, nn.AvgPool2d) for m in enc.modules()) == 2
    # 8 -> 4 -> 2 after two poolings: the head sees 6 * 2 * 2 features.
    assert enc.head[1].in_features == 24
    assert not any(isinstance(m, nn.MaxPool2d) for m in ConvEncoder((8, 8), 2, pool=None).modules())


# ---------------------------------------------------------------- image input
def test_conv_on_images_contributions_sum_exactly(fitted_conv, images):
    X, _ = images
    assert fitted_conv.input_shape_ == (1, 8, 8) and fitted_conv.n_features_in_ == 64
    assert fitted_conv.mean_.shape == (1, 8, 8)
    np.testing.assert_allclose(fitted_conv.mean_, X.mean(0), rtol=1e-6)
    emb = fitted_conv.transform(X)
    C = fitted_conv.compute_contributions(X)
    assert C.shape == (len(X), 2, 1, 8, 8)
    assert np.abs(C.sum((2, 3, 4)) - emb).max() <= 1e-5 * np.abs(emb).max()
    C64 = fitted_conv.compute_contributions(X, dtype="float64")
    with torch.no_grad():
        out = fitted_conv.map_.double()(torch.from_numpy(X - fitted_conv.mean_).double())
        fitted_conv.map_.float()
    assert np.abs(C64.sum((2, 3, 4)) - out.numpy()).max() <= 1e-12 * np.abs(out.numpy()).max()
    assert fitted_conv.compute_contributions(X[:5], reduction="l2").shape == (5, 1, 8, 8)


def test_image_transform_is_batch_invariant(fitted_conv, images):
    X, _ = images
    emb = fitted_conv.transform(X)
    C = fitted_conv.compute_contributions(X)
    np.testing.assert_array_equal(fitted_conv.transform(torch.from_numpy(X)), emb)
    idx = np.random.default_rng(0).permutation(len(X))
    for size in [1, 2, 7, 15, 16, 17, 37]:
        np.testing.assert_array_equal(fitted_conv.transform(X[idx[:size]]), emb[idx[:size]])
        np.testing.assert_array_equal(
            fitted_conv.compute_contributions(X[idx[:size]]), C[idx[:size]]
        )


def test_image_shape_checks(fitted_conv, images):
    X, _ = images
    with pytest.raises(ValueError, match=r"X: samples of shape \(64,\).*\(1, 8, 8\)"):
        fitted_conv.transform(X.reshape(len(X), 64))
    with pytest.raises(ValueError, match=r"X: samples of shape \(1, 8, 7\)"):
        fitted_conv.compute_contributions(X[..., :7])
    with pytest.raises(ValueError, match="pca_components: must be None for N-D input"):
        GlassBoxUMAP(encoder_name="conv", pca_components=5, **TINY).fit(X)
    with pytest.raises(ValueError, match="input_dims: the conv encoder needs images"):
        GlassBoxUMAP(encoder_name="conv", **TINY).fit(X.reshape(len(X), 64))
    with pytest.raises(ValueError, match="contains NaN"):
        bad = X.copy()
        bad[3, 0, 2, 2] = np.nan
        GlassBoxUMAP(encoder_name="conv", **TINY).fit(bad)


def test_mlp_encoders_refuse_images_by_name_but_take_them_as_modules(images):
    X, _ = images
    for name in ("default", "residual"):
        with pytest.raises(ValueError, match=rf"X: expected a 2-D .*encoder_name='{name}'"):
            GlassBoxUMAP(encoder_name=name, **TINY).fit(X)
    reducer = GlassBoxUMAP(encoder=MLPEncoder((1, 8, 8), 2), random_state=0, **TINY).fit(X)
    C = reducer.compute_contributions(X[:20])
    assert C.shape == (20, 2, 1, 8, 8)
    emb = reducer.transform(X[:20])
    assert np.abs(C.sum((2, 3, 4)) - emb).max() <= 1e-5 * np.abs(emb).max()


def test_image_model_save_load_roundtrip(fitted_conv, images, tmp_path):
    from safetensors import safe_open

    X, _ = images
    path = tmp_path / "conv.safetensors"
    fitted_conv.save(path)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
    assert meta["input_shape"] == [1, 8, 8] and meta["format_version"] == 3  # scaled
    assert meta["encoder"] == {
        "class": "glass_box_umap.encoders.conv.ConvEncoder",
        "source": "registry",
    }
    loaded = GlassBoxUMAP.load(path)
    assert loaded.input_shape_ == (1, 8, 8) and loaded.mean_.shape == (1, 8, 8)
    np.testing.assert_array_equal(loaded.transform(X), fitted_conv.transform(X))
    np.testing.assert_array_equal(
        loaded.compute_contributions(X[:50]), fitted_conv.compute_contributions(X[:50])
    )


def test_flat_models_keep_format_1_unless_scaled(fitted, tmp_path):
    from safetensors import safe_open

    fitted.save(tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
    # an input scale that a format-1 reader would ignore makes the file format 3
    assert fitted.input_scale_ != 1.0
    assert meta["format_version"] == 3 and meta["input_shape"] == [64]
    unscaled = copy.deepcopy(fitted)
    unscaled.map_.scale.fill_(1.0)
    unscaled.save(tmp_path / "u.safetensors")
    with safe_open(str(tmp_path / "u.safetensors"), framework="pt") as f:
        assert json.loads(f.metadata()["glass_box_umap"])["format_version"] == 1
    assert GlassBoxUMAP.load(tmp_path / "m.safetensors").input_shape_ == (64,)


# ---------------------------------------------------------------- encoder=
def _exact_net(d=64, k=2):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, 16, bias=False), nn.PReLU(), nn.Linear(16, k, bias=False))


def test_encoder_instance_is_copied_and_refits_start_from_it(digits):
    X, _ = digits
    net = _exact_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    reducer = GlassBoxUMAP(encoder=net, random_state=0, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExactnessWarning)
        first = reducer.fit_transform(X)
    assert reducer.encoder_ is not net
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    np.testing.assert_array_equal(reducer.fit_transform(X), first)
    C = reducer.compute_contributions(X, dtype="float64")
    assert C.shape == (len(X), 2, 64)


def test_encoder_factory_gets_input_dims_and_n_components(images):
    X, _ = images
    seen = []

    def factory(input_dims, n_components):
        seen.append((input_dims, n_components))
        return ConvEncoder(input_dims, n_components, channels=(4,))

    reducer = GlassBoxUMAP(encoder=factory, n_components=3, random_state=0, **TINY).fit(X)
    assert seen == [((1, 8, 8), 3)]
    assert reducer.compute_contributions(X[:4]).shape == (4, 3, 1, 8, 8)


def test_encoder_conflicts_and_bad_values_are_named(digits):
    X, _ = digits
    net = _exact_net()
    with pytest.raises(ValueError, match="encoder_kwargs: .* would be ignored"):
        GlassBoxUMAP(encoder=net, encoder_kwargs={"hidden_size": 3}, **TINY).fit(X)
    with pytest.raises(ValueError, match="encoder_name: 'conv' would be ignored"):
        GlassBoxUMAP(encoder=net, encoder_name="conv", **TINY).fit(X)
    with pytest.raises(TypeError, match="encoder: expected None, an nn.Module or a callable"):
        GlassBoxUMAP(encoder="mlp", **TINY).fit(X)
    with pytest.raises(TypeError, match="encoder: .* returned int, not an nn.Module"):
        GlassBoxUMAP(encoder=lambda d, k: 3, **TINY).fit(X)
    with pytest.raises(ValueError, match=r"encoder: the encoder maps .* to \(64, 3\)"):
        GlassBoxUMAP(encoder=_exact_net(k=3), **TINY).fit(X)
    with pytest.raises(ValueError, match="encoder: the encoder fails on inputs"):
        GlassBoxUMAP(encoder=_exact_net(d=63), **TINY).fit(X)


def test_inexact_custom_encoder_warns_before_training_naming_the_culprit(digits, monkeypatch):
    from glass_box_umap import fitting

    X, _ = digits
    net = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 2, bias=False))

    def no_graph(*args, **kwargs):
        raise RuntimeError("graph reached")

    monkeypatch.setattr(fitting, "build_graph", no_graph)
    with pytest.warns(ExactnessWarning, match=r"encoder: the encoder is not exact") as record:
        with pytest.raises(RuntimeError, match="graph reached"):
            GlassBoxUMAP(encoder=net, **TINY).fit(X)
    message = str(record[0].message)
    assert "a bias at 0.bias" in message and "smooth activation at 1" in message
    assert "rtol 1e-10" in message


def test_registered_custom_encoder_is_checked_shipped_ones_are_not(registry, digits, monkeypatch):
    from glass_box_umap import fitting

    X, _ = digits
    calls = []
    real = fitting.warn_if_inexact

    def spy(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(fitting, "warn_if_inexact", spy)
    GlassBoxUMAP(random_state=0, **TINY).fit(X[:100])
    assert calls == []
    register_encoder("tiny")(Tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExactnessWarning)
        GlassBoxUMAP(encoder_name="tiny", random_state=0, **TINY).fit(X[:100])
    assert calls == ["encoder_name"]


def test_load_model_trained_with_encoder_instance(digits, tmp_path):
    from safetensors import safe_open

    X, _ = digits
    reducer = GlassBoxUMAP(encoder=_exact_net(), random_state=0, **TINY).fit(X)
    path = tmp_path / "m.safetensors"
    reducer.save(path)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
    assert meta["encoder"] == {"class": "torch.nn.modules.container.Sequential", "source": "module"}
    assert "encoder" not in meta["params"]
    with pytest.raises(ValueError, match=r"encoder: .*GlassBoxUMAP.load\(path, encoder=\.\.\.\)"):
        GlassBoxUMAP.load(path)
    loaded = GlassBoxUMAP.load(path, encoder=_exact_net())
    np.testing.assert_array_equal(loaded.transform(X), reducer.transform(X))
    assert isinstance(loaded.encoder, nn.Sequential)
    wrong = nn.Sequential(nn.Linear(64, 8, bias=False), nn.PReLU(), nn.Linear(8, 2, bias=False))
    with pytest.raises(ValueError, match="encoder: .* does not fit the weights saved"):
        GlassBoxUMAP.load(path, encoder=wrong)


def test_load_model_of_unregistered_custom_encoder_says_what_to_register(
    registry, digits, tmp_path
):
    X, _ = digits
    register_encoder("tiny")(Tiny)
    reducer = GlassBoxUMAP(
        encoder_name="tiny", encoder_kwargs={"width": 4}, random_state=0, **TINY
    ).fit(X)
    path = tmp_path / "tiny.safetensors"
    reducer.save(path)
    unregister_encoder("tiny")
    expected = (
        r"encoder_name='tiny' \(tests.test_encoders.Tiny\), which is not registered.*"
        r"register_encoder\('tiny'\)\(Tiny\)"
    )
    with pytest.raises(ValueError, match=expected):
        GlassBoxUMAP.load(path)
    register_encoder("tiny")(Tiny)
    loaded = GlassBoxUMAP.load(path)
    assert loaded.get_params()["encoder_kwargs"] == {"width": 4}
    np.testing.assert_array_equal(loaded.transform(X), reducer.transform(X))


def test_snapshots_follow_an_image_encoder(images):
    from glass_box_umap import EmbeddingSnapshots

    X, y = images
    snaps = EmbeddingSnapshots(X, every_n_epochs=1, labels=y, n_samples=50)
    reducer = GlassBoxUMAP(
        encoder_name="conv",
        random_state=0,
        extra_callbacks=[snaps],
        restore_best_weights=False,
        **{**FAST, "epochs": 2},
    ).fit(X)
    assert snaps.epochs_ == [0, 1, 2]
    assert all(e.shape == (50, 2) for e in snaps.embeddings_)
    # the last snapshot is the trained encoder's embedding of those images
    last = reducer.transform(X[snaps.indices_])
    np.testing.assert_allclose(snaps.embeddings_[-1], last, rtol=1e-5, atol=1e-5)
