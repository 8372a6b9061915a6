import numpy as np
import pytest
import torch

from glass_box_umap.affinity import EdgeList
from glass_box_umap.loss import find_ab_params, sampled_umap_loss, umap_loss
from glass_box_umap.sampling import EdgeSampler, NeighbourNoise, alias_draw, alias_tables

from .conftest import require_module

umap_ = require_module("umap.umap_")


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


def _sampled_pairs(n=40, n_edges=120, rate=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    head = torch.randint(0, n, (n_edges,), generator=gen)
    tail = torch.randint(0, n, (n_edges,), generator=gen)
    tail[:3] = head[:3]  # coincident ends: the clamped attraction passes no gradient
    negatives = torch.randint(0, n, (n_edges, rate), generator=gen)
    return emb, head, tail, negatives


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sampled_loss_equals_the_loss_of_gathered_rows_in_value_and_gradient(dtype):
    emb, head, tail, negatives = _sampled_pairs()
    emb = emb.to(dtype)
    a, b = find_ab_params(1.0, 0.1)
    weights = (1.0, 0.7, -2.5)  # a combination of all three outputs reaches every backward term
    results = []
    for fused in (False, True):
        x = emb.clone().requires_grad_()
        if fused:
            terms = sampled_umap_loss(x, head, tail, negatives, a, b, repulsion_strength=2.0)
        else:
            terms = umap_loss(x[head], x[tail], x[negatives], a, b, repulsion_strength=2.0)
        sum(w * t for w, t in zip(weights, terms, strict=True)).backward()
        results.append((torch.stack(terms).detach(), x.grad))
    (values, grad), (fused_values, fused_grad) = results
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-7}
    torch.testing.assert_close(fused_values, values, **tol)
    torch.testing.assert_close(fused_grad, grad, **tol)


def test_sampled_loss_passes_gradcheck():
    emb, head, tail, negatives = _sampled_pairs(n=12, n_edges=30, rate=3)
    a, b = find_ab_params(1.0, 0.1)

    def terms(x):
        return sampled_umap_loss(x, head, tail, negatives, a, b, repulsion_strength=1.5)

    assert torch.autograd.gradcheck(terms, (emb.requires_grad_(),))


def _edges(n=50, seed=0):
    rng = np.random.default_rng(seed)
    head = rng.integers(0, n, 400)
    tail = (head + rng.integers(1, n, 400)) % n
    weight = rng.uniform(0.01, 1.0, 400).astype(np.float32)
    return EdgeList(head, tail, weight, n)


def _encoded(batch, n_vertices):
    """The vertex ids of the rows a batch encodes."""
    return np.arange(n_vertices) if batch.vertices is None else batch.vertices.numpy()


@pytest.mark.parametrize("static_shapes", [False, True])
@pytest.mark.parametrize("batch_size", [20, 64, 1000])
def test_edges_sampled_in_proportion_to_weight(batch_size, static_shapes):
    edges = _edges()
    gen = torch.Generator().manual_seed(0)
    sampler = EdgeSampler(edges, batch_size, 3, torch.device("cpu"), gen, static_shapes)
    rows_per_step = 2 * batch_size if static_shapes else batch_size
    assert sampler.encode_all == (rows_per_step >= edges.n_vertices)
    counts = np.zeros((edges.n_vertices, edges.n_vertices))
    expected = np.zeros_like(counts)
    np.add.at(expected, (edges.head, edges.tail), edges.weight)
    draws = 0
    for _ in range(200_000 // batch_size):
        batch = sampler.sample()
        v = _encoded(batch, edges.n_vertices)
        np.add.at(counts, (v[batch.head.numpy()], v[batch.tail.numpy()]), 1)
        assert batch.negatives.shape == (batch_size, 3)
        assert batch.negatives.min() >= 0 and batch.negatives.max() < len(v)
        draws += batch_size
    expected *= draws / expected.sum()
    mask = expected > 0
    assert counts[~mask].sum() == 0
    # Poisson noise: relative error of the aggregate is tiny when frequencies are right.
    assert np.abs(counts[mask] - expected[mask]).sum() / draws < 0.05


def _weights(kind, n, rng):
    if kind == "uniform":
        return rng.uniform(0.0, 1.0, n)
    if kind == "equal":  # scaled to mean 1, rounding can put every value just below 1
        return np.full(n, 0.3)
    if kind == "skewed":
        return rng.uniform(0.0, 1.0, n) ** 8
    return np.where(rng.uniform(0.0, 1.0, n) < 0.2, 1.0, 1e-9)  # a few carry all


@pytest.mark.parametrize("kind", ["uniform", "equal", "skewed", "sparse"])
def test_alias_tables_give_each_value_its_share_of_its_group(kind):
    rng = np.random.default_rng(0)
    for _ in range(50):
        counts = torch.as_tensor(rng.integers(0, 12, rng.integers(1, 8)))
        weight = torch.as_tensor(_weights(kind, int(counts.sum()), rng))
        prob, alias = alias_tables(weight, counts)
        assert prob.dtype == torch.float64 and bool(((prob >= 0) & (prob <= 1)).all())
        group = torch.repeat_interleave(torch.arange(len(counts)), counts)
        assert torch.equal(group[alias], group)
        # bucket i is drawn with probability 1 / count; it gives prob[i] to i, the rest
        # to alias[i]
        mass = prob.clone().index_add_(0, alias, 1.0 - prob)
        total = torch.zeros(len(counts), dtype=torch.float64).index_add_(0, group, weight)
        share = weight / total[group] * counts[group]
        torch.testing.assert_close(mass, share, rtol=0, atol=1e-12)


def test_alias_tables_of_a_large_group_are_exact_to_float_rounding():
    weight = torch.rand(300_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    weight = weight**4
    prob, alias = alias_tables(weight, torch.tensor([len(weight)]))
    mass = prob.clone().index_add_(0, alias, 1.0 - prob)
    torch.testing.assert_close(mass, weight / weight.mean(), rtol=1e-8, atol=1e-8)


def test_alias_draws_follow_the_weights_of_each_group():
    rng = np.random.default_rng(1)
    counts = torch.tensor([3, 0, 1, 6])
    weight = torch.as_tensor(rng.uniform(0.05, 1.0, 10))
    prob, alias = alias_tables(weight, counts)
    first = torch.cumsum(counts, 0) - counts
    gen = torch.Generator().manual_seed(0)
    for g in (0, 2, 3):
        u = torch.rand(200_000, generator=gen, dtype=torch.float64)
        drawn = alias_draw(prob, alias, first[g], counts[g], u)
        lo, hi = int(first[g]), int(first[g] + counts[g])
        assert int(drawn.min()) >= lo and int(drawn.max()) < hi
        freq = torch.bincount(drawn - lo, minlength=hi - lo).double() / len(u)
        expected = weight[lo:hi] / weight[lo:hi].sum()
        # binomial standard error at 200,000 draws is at most 0.0012
        assert float((freq - expected).abs().max()) < 0.005


def test_neighbour_noise_draws_neighbours_in_proportion_to_weight():
    edges = _edges()
    noise = NeighbourNoise(edges, torch.device("cpu"), torch.Generator().manual_seed(0))
    vertices = torch.tensor([0, 7, 31])
    u = torch.rand((3, 100_000), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    position = alias_draw(
        noise._prob,
        noise._alias,
        noise.first[vertices].unsqueeze(1),
        noise.counts[vertices].unsqueeze(1),
        u,
    )
    drawn = noise.tail[position].numpy()
    for row, vertex in enumerate(vertices.tolist()):
        expected = np.zeros(edges.n_vertices)
        mine = edges.head == vertex
        np.add.at(expected, edges.tail[mine], edges.weight[mine])
        freq = np.bincount(drawn[row], minlength=edges.n_vertices) / u.shape[1]
        assert np.all(freq[expected == 0] == 0)
        assert np.abs(freq - expected / expected.sum()).max() < 0.01


def test_unique_mode_encodes_each_vertex_once():
    edges = _edges(n=5000)
    sampler = EdgeSampler(edges, 100, 5, torch.device("cpu"), torch.Generator().manual_seed(1))
    assert sampler.mode == "unique"
    batch = sampler.sample()
    v = batch.vertices.numpy()
    assert len(np.unique(v)) == len(v) < 200
    pairs = set(zip(edges.head.tolist(), edges.tail.tolist(), strict=True))
    sampled = zip(v[batch.head.numpy()].tolist(), v[batch.tail.numpy()].tolist(), strict=True)
    assert all(p in pairs for p in sampled)


def test_static_shapes_fix_every_tensor_size():
    edges = _edges(n=5000)
    sampler = EdgeSampler(
        edges, 100, 5, torch.device("cpu"), torch.Generator().manual_seed(1), static_shapes=True
    )
    assert sampler.mode == "ends"
    data = torch.randn(5000, 3)
    pairs = set(zip(edges.head.tolist(), edges.tail.tolist(), strict=True))
    for _ in range(3):
        batch = sampler.sample()
        assert batch.vertices.shape == (200,)
        # Heads are the first half of the encoded rows, tails the second.
        np.testing.assert_array_equal(batch.head.numpy(), np.arange(100))
        np.testing.assert_array_equal(batch.tail.numpy(), np.arange(100, 200))
        v = batch.vertices.numpy()
        assert set(zip(v[:100].tolist(), v[100:].tolist(), strict=True)) <= pairs
        assert batch.inputs(data).shape == (200, 3)
        assert 0 <= batch.negatives.min() and batch.negatives.max() < 200


def test_all_mode_encodes_data_without_copy():
    edges = _edges(n=50)
    sampler = EdgeSampler(edges, 64, 5, torch.device("cpu"), torch.Generator().manual_seed(1))
    data = torch.randn(50, 3)
    assert sampler.sample().inputs(data) is data
