import numpy as np
import pytest
import torch

from glass_box_umap.attribution import batch_jacobian, contributions
from glass_box_umap.encoders import ConvEncoder, MLPEncoder, ResidualEncoder


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_jacobian_matches_jacrev(layers):
    torch.manual_seed(0)
    model = MLPEncoder(7, 3, hidden_size=16, n_hidden_layers=layers).double().eval()
    x = torch.randn(20, 7, dtype=torch.float64)
    jac, out = batch_jacobian(model, x)
    # One jacrev per sample: the reference is deliberately the slow, obvious way.
    ref = torch.stack([torch.func.jacrev(lambda v: model(v[None])[0])(row) for row in x])
    assert jac.shape == (20, 3, 7)
    torch.testing.assert_close(jac, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(out, model(x))


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_contributions_reconstruct_output(dtype, tol):
    torch.manual_seed(0)
    model = MLPEncoder(64, 2).to(dtype).eval()
    x = torch.randn(500, 64, dtype=dtype) * 3
    contrib, out = contributions(model, x)
    assert contrib.shape == (500, 2, 64)
    err = (contrib.sum(-1) - out).abs().max()
    assert err <= tol * out.abs().max()


def _jacrev_reference(model, x):
    """Per-sample ``torch.func.jacrev``: the slow, obvious Jacobian."""
    return torch.stack([torch.func.jacrev(lambda v: model(v[None])[0])(row) for row in x])


ENCODERS = {
    "mlp": (lambda: MLPEncoder(7, 3, hidden_size=16, n_hidden_layers=2), (7,)),
    "mlp-image": (lambda: MLPEncoder((2, 3, 4), 2, hidden_size=8), (2, 3, 4)),
    "conv": (lambda: ConvEncoder((2, 6, 5), 3, channels=(4, 3)), (2, 6, 5)),
    "conv-avg": (lambda: ConvEncoder((6, 6), 2, channels=(3,), pool="avg"), (6, 6)),
    "residual": (lambda: ResidualEncoder(9, 2, hidden_size=12, n_blocks=2), (9,)),
}


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("method", ["auto", "autograd"])
def test_every_encoder_and_method_matches_jacrev(name, method):
    build, shape = ENCODERS[name]
    torch.manual_seed(0)
    model = build().double().eval()
    x = torch.randn(12, *shape, dtype=torch.float64)
    jac, out = batch_jacobian(model, x, method=method)
    assert jac.shape == (12, out.shape[1], *shape)
    torch.testing.assert_close(jac, _jacrev_reference(model, x), rtol=0, atol=1e-12)
    torch.testing.assert_close(out, model(x), rtol=0, atol=0)


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_mlp_closed_form_equals_autograd(layers):
    torch.manual_seed(0)
    model = MLPEncoder(20, 2, hidden_size=32, n_hidden_layers=layers).eval()
    x = torch.randn(300, 20)
    closed, out_closed = model.jacobian(x)
    auto, out_auto = batch_jacobian(model, x, method="autograd")
    torch.testing.assert_close(closed, auto, rtol=1e-5, atol=1e-6)
    assert torch.equal(out_closed, out_auto)


def test_jacobian_under_inference_mode_and_bad_method():
    model = ResidualEncoder(5, 2).eval()
    x = torch.randn(4, 5)
    with torch.inference_mode():
        jac, _ = batch_jacobian(model, x)
    assert jac.shape == (4, 2, 5)
    with pytest.raises(ValueError, match="method"):
        batch_jacobian(model, x, method="vmap")


def test_projection_then_encoder_jacobian_is_the_chain_rule():
    from glass_box_umap.model import GlassBoxMap

    torch.manual_seed(0)
    projection = torch.randn(6, 15, dtype=torch.float64)
    for encoder in (MLPEncoder(6, 2), ResidualEncoder(6, 2)):
        model = GlassBoxMap(encoder, np.zeros(15), projection.float()).double().eval()
        x = torch.randn(10, 15, dtype=torch.float64)
        jac, out = batch_jacobian(model, x)
        ref, ref_out = batch_jacobian(model, x, method="autograd")
        torch.testing.assert_close(jac, ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-13)
