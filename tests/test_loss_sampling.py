import numpy as np
import pytest
import torch

from glass_box_umap.graph import EdgeList
from glass_box_umap.loss import find_ab_params, umap_loss
from glass_box_umap.sampling import EdgeSampler

umap_ = pytest.importorskip("umap.umap_")


@pytest.mark.parametrize("min_dist", [0.0, 0.1, 0.5, 1.0])
def test_ab_params_match_umap(min_dist):
    np.testing.assert_allclose(find_ab_params(1.0, min_dist), umap_.find_ab_params(1.0, min_dist))


def test_loss_is_umap_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    head, tail = torch.randn(50, 2, generator=gen), torch.randn(50, 2, generator=gen)
    neg = torch.randn(50, 5, 2, generator=gen)
    a, b = find_ab_params(1.0, 0.1)
    loss, attraction, repulsion = umap_loss(head, tail, neg, a, b, repulsion_strength=2.0)

    def q(d2):
        return 1.0 / (1.0 + a * d2**b)

    d2p = ((head - tail) ** 2).sum(-1).double()
    d2n = ((head[:, None] - neg) ** 2).sum(-1).double() + 1e-3
    expect_att = -torch.log(q(d2p)).sum() / 50
    expect_rep = -torch.log(1 - q(d2n)).sum() / 50
    assert attraction.item() == pytest.approx(expect_att.item(), rel=1e-5)
    assert repulsion.item() == pytest.approx(expect_rep.item(), rel=1e-5)
    assert loss.item() == pytest.approx((expect_att + 2.0 * expect_rep).item(), rel=1e-5)


def test_loss_is_finite_for_coincident_points():
    x = torch.zeros(4, 2, requires_grad=True)
    loss, _, _ = umap_loss(x, x, x[:, None].expand(4, 3, 2), 1.5, 0.9)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def _edges(n=50, seed=0):
    rng = np.random.default_rng(seed)
    head = rng.integers(0, n, 400)
    tail = (head + rng.integers(1, n, 400)) % n
    weight = rng.uniform(0.01, 1.0, 400).astype(np.float32)
    return EdgeList(head, tail, weight, n)


@pytest.mark.parametrize("batch_size", [64, 1000])
def test_edges_sampled_in_proportion_to_weight(batch_size):
    edges = _edges()
    gen = torch.Generator().manual_seed(0)
    sampler = EdgeSampler(edges, batch_size, 3, torch.device("cpu"), gen)
    assert sampler.encode_all == (batch_size >= edges.n_vertices)
    counts = np.zeros((edges.n_vertices, edges.n_vertices))
    expected = np.zeros_like(counts)
    np.add.at(expected, (edges.head, edges.tail), edges.weight)
    draws = 0
    for _ in range(200_000 // batch_size):
        batch = sampler.sample()
        v = batch.vertices.numpy()
        np.add.at(counts, (v[batch.head.numpy()], v[batch.tail.numpy()]), 1)
        assert batch.negatives.shape == (batch_size, 3)
        assert batch.negatives.min() >= 0 and batch.negatives.max() < len(v)
        draws += batch_size
    expected *= draws / expected.sum()
    mask = expected > 0
    assert counts[~mask].sum() == 0
    # Poisson noise: relative error of the aggregate is tiny when frequencies are right.
    assert np.abs(counts[mask] - expected[mask]).sum() / draws < 0.05


def test_unique_mode_encodes_each_vertex_once():
    edges = _edges(n=5000)
    sampler = EdgeSampler(edges, 100, 5, torch.device("cpu"), torch.Generator().manual_seed(1))
    batch = sampler.sample()
    v = batch.vertices.numpy()
    assert len(np.unique(v)) == len(v) < 200
    pairs = set(zip(edges.head.tolist(), edges.tail.tolist(), strict=True))
    sampled = zip(v[batch.head.numpy()].tolist(), v[batch.tail.numpy()].tolist(), strict=True)
    assert all(p in pairs for p in sampled)
