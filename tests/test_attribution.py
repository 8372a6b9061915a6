import pytest
import torch

from glass_box_umap.attribution import batch_jacobian, contributions
from glass_box_umap.encoders import MLPEncoder


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
