"""What a training step's hand-written parts save, against the plain PyTorch they replace.

Usage::

    python benchmarks/step_kernels.py [--repeats 200] [--quick]

Three parts of a step have a hand-written backward pass (each measured against the
plain PyTorch composition it replaces, in this one process, on the same tensors):

* the UMAP loss of a batch's pairs (:func:`glass_box_umap.loss.sampled_umap_loss`
  against autograd through :func:`~glass_box_umap.loss.umap_loss` of gathered rows);
* PReLU (``glass_box_umap._prelu.TrainingPReLU`` against ``nn.PReLU``), on a hidden
  layer of the default MLP and on the conv encoder's first block;
* the training-time batch-RMS normalisation (``BatchRMS`` against ``h / rms(h)``).

Shapes are those of a default fit on the 1,203 training digits of
``benchmarks/generalization.py`` (every row encoded, 10,000 edges, five negatives each)
and of a ``batch_size=512`` step on the swiss-roll page's 1,000 points. Printed: the
milliseconds of one forward and backward pass (median over ``--repeats`` runs), and the
ratio ``autograd / ours``. Then, timed the same way:

* PReLU and the batch RMS of one hidden layer as the two hand-written functions, against
  the one function the shipped training network runs them as
  (``normalisation.TrainingNet``), on digits' shape and on the 12,500 rows of a medium
  step;
* the across noise of a medium step (the rows a batch of 10,000 edges encodes among
  20,000 x 50 points of ``benchmarks/scale.py``'s mixture), projected in one piece
  against the shipped chunks (``sampling._STEP_CHUNK_VALUES``; the same bits);
* a step's weighted draws (the batch's 10,000 edges, and the neighbour noise's four
  neighbours per encoded row) by a binary search of the cumulative weights (what the
  sampler did before) against the alias tables it builds (``sampling.alias_tables``), and
  the neighbour noise's mix of the drawn neighbours' offsets, gathered (before) against a
  weighted bag of rows (``F.embedding_bag``), on the mixture's graphs of 1,203 and 20,000
  points.

Then a whole default fit on the 1,203 digits with the three swapped back to their
autograd versions (and the two layers unfused), against the shipped one (same seed, both
timed in this process). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch
from _common import format_table, header

from glass_box_umap import _prelu, normalisation, sampling, training
from glass_box_umap.loss import find_ab_params, sampled_umap_loss, umap_loss


def median_ms(step: Callable[[], None], repeats: int) -> float:
    """Median wall-clock milliseconds of ``step()`` over ``repeats`` calls (after two)."""
    step()
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def autograd_loss(emb, head, tail, negatives, a, b, repulsion_strength=1.0):
    """What :func:`sampled_umap_loss` replaces: autograd through ``umap_loss`` of gathered rows."""
    rows = emb.index_select(0, negatives.flatten()).view(*negatives.shape, -1)
    return umap_loss(
        emb.index_select(0, head), emb.index_select(0, tail), rows, a, b, repulsion_strength
    )


def autograd_rms_forward(self: normalisation.BatchRMS, h: torch.Tensor) -> torch.Tensor:
    """What the hand-written backward of ``BatchRMS`` replaces: autograd through the division."""
    if not self.training:
        return h / self.running_rms
    rms = (h.square().mean(dim=0) + normalisation._EPS).sqrt()
    with torch.no_grad():
        self.running_rms.lerp_(rms.detach(), normalisation.MOMENTUM)
    return h / rms


def loss_pair(n: int, n_edges: int, rate: int = 5) -> tuple[Callable[[], None], ...]:
    """(autograd, ours): forward and backward of a step's loss over ``n`` encoded rows."""
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(n, 2, generator=gen)
    head = torch.randint(0, n, (n_edges,), generator=gen)
    tail = torch.randint(0, n, (n_edges,), generator=gen)
    negatives = torch.randint(0, n, (n_edges, rate), generator=gen)
    a, b = find_ab_params(1.0, 0.1)

    def run(loss: Callable[..., tuple[torch.Tensor, ...]]) -> Callable[[], None]:
        def step() -> None:
            x = emb.clone().requires_grad_()
            loss(x, head, tail, negatives, a, b)[0].backward()

        return step

    return run(autograd_loss), run(sampled_umap_loss)


def layer_pair(
    plain: torch.nn.Module, ours: torch.nn.Module, shape: tuple[int, ...]
) -> tuple[Callable[[], None], ...]:
    """(autograd, ours): forward and backward of one layer on an input of ``shape``."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    upstream = torch.randn(shape, generator=gen)

    def run(layer: torch.nn.Module) -> Callable[[], None]:
        def step() -> None:
            inputs = x.clone().requires_grad_()
            layer(inputs).backward(upstream)

        return step

    return run(plain), run(ours)


class _AutogradRMS(normalisation.BatchRMS):
    """``BatchRMS`` with autograd's backward pass."""

    forward = autograd_rms_forward


def prelu(n_slopes: int, cls: type[torch.nn.PReLU]) -> torch.nn.PReLU:
    """A PReLU layer of ``cls`` with ``n_slopes`` slopes, in training mode."""
    return cls(n_slopes).train()


@contextmanager
def autograd_everywhere():
    """Train with the autograd versions of the three parts (in-process patches)."""

    saved = (
        training.sampled_umap_loss,
        normalisation.BatchRMS.forward,
        _prelu.TrainingPReLU.forward,
        normalisation._fusable,
    )
    training.sampled_umap_loss = autograd_loss
    normalisation.BatchRMS.forward = autograd_rms_forward
    _prelu.TrainingPReLU.forward = torch.nn.PReLU.forward
    normalisation._fusable = lambda *args: False
    try:
        yield
    finally:
        (
            training.sampled_umap_loss,
            normalisation.BatchRMS.forward,
            _prelu.TrainingPReLU.forward,
            normalisation._fusable,
        ) = saved


def prelu_rms_pair(rows: int) -> tuple[Callable[[], None], ...]:
    """(two functions, one): a hidden layer's PReLU and batch RMS on ``rows`` x 128 units,
    as the hand-written ``TrainingPReLU`` then ``BatchRMS``, and as the shipped
    ``TrainingNet`` runs them (one ``_PReLUBatchRMSFunction``)."""

    def layers() -> list[torch.nn.Module]:
        return [prelu(1, _prelu.TrainingPReLU), normalisation.BatchRMS(torch.ones(128)).train()]

    return layer_pair(
        torch.nn.Sequential(*layers()), normalisation.TrainingNet(*layers()), (rows, 128)
    )


def across_noise_pair(
    n: int, dim: int, n_edges: int
) -> tuple[Callable[[], None], Callable[[], None], int]:
    """(one piece, ours, rows encoded): a step's across noise for the rows ``n_edges`` edges
    encode among ``n`` points of ``dim`` values."""
    from scale import make_data

    from glass_box_umap.affinity import build_graph

    x = torch.as_tensor(make_data(n, dim))
    edges = build_graph(x.numpy(), 15, "euclidean", 0, torch.device("cpu"), "auto")
    gen = torch.Generator().manual_seed(0)
    noise = sampling.AcrossNoise(edges, x, 14, gen)
    picked = torch.randint(0, len(edges.head), (n_edges,), generator=gen)
    ends = torch.cat([torch.as_tensor(edges.head)[picked], torch.as_tensor(edges.tail)[picked]])
    vertices = torch.unique(ends)

    def run(chunk_values: int) -> Callable[[], None]:
        def step() -> None:
            saved = sampling._STEP_CHUNK_VALUES
            sampling._STEP_CHUNK_VALUES = chunk_values
            try:
                noise(vertices)
            finally:
                sampling._STEP_CHUNK_VALUES = saved

        return step

    return run(2**62), run(sampling._STEP_CHUNK_VALUES), len(vertices)


def draw_pairs(n: int, dim: int, batch_size: int) -> list[tuple[str, Callable[[], None], ...]]:
    """(part, shape, before, ours) for a step's draws on the graph of ``n`` points of
    ``dim`` values: ``batch_size`` edges in proportion to weight, and four neighbours per
    encoded row in proportion to weight (the neighbour noise), by a binary search of the
    cumulative weights (what the sampler did before) against the alias tables; then the
    neighbour noise's mix of those neighbours' offsets, gathered (before) against a
    weighted bag of rows (``F.embedding_bag``)."""
    from scale import make_data

    from glass_box_umap.affinity import build_graph

    x = torch.as_tensor(make_data(n, dim))
    edges = build_graph(x.numpy(), 15, "euclidean", 0, torch.device("cpu"), "auto")
    gen = torch.Generator().manual_seed(0)
    sampler = sampling.EdgeSampler(edges, batch_size, 5, torch.device("cpu"), gen)
    noise = sampling.NeighbourNoise(edges, torch.device("cpu"), gen)
    weight = torch.as_tensor(edges.weight, dtype=torch.float64)
    cdf = torch.cumsum(weight, 0)
    cdf /= cdf[-1].clone()
    order = torch.argsort(torch.as_tensor(edges.head), stable=True)
    by_head = torch.cumsum(weight.index_select(0, order), 0)
    vertices = sampler.sample().vertices
    vertices = torch.arange(n) if vertices is None else vertices
    first = noise.first.index_select(0, vertices).unsqueeze(1)
    counts = noise.counts.index_select(0, vertices).unsqueeze(1)
    low = torch.where(
        first > 0, by_head.index_select(0, (first - 1).clamp_min(0).flatten()).view_as(first), 0.0
    )
    high = by_head.index_select(0, (first + counts - 1).clamp_min(0).flatten()).view_as(first)
    u_edges = torch.rand(batch_size, generator=gen, dtype=torch.float64)
    u_rows = torch.rand((len(vertices), noise.draws), generator=gen, dtype=torch.float64)

    def search_edges() -> None:
        torch.searchsorted(cdf, u_edges).clamp_max_(len(cdf) - 1)

    def alias_edges() -> None:
        sampling.alias_draw(sampler._prob, sampler._alias, 0, len(cdf), u_edges)

    def search_rows() -> None:
        position = torch.searchsorted(by_head, low + u_rows * (high - low), right=True)
        torch.minimum(torch.maximum(position, first), first + counts - 1)

    def alias_rows() -> None:
        sampling.alias_draw(noise._prob, noise._alias, first, counts, u_rows)

    m, draws = len(vertices), noise.draws
    neighbours = noise.tail[sampling.alias_draw(noise._prob, noise._alias, first, counts, u_rows)]
    z = torch.randn((m, draws), generator=gen)

    def gathered_mix() -> None:
        own = x.index_select(0, vertices)
        offsets = x.index_select(0, neighbours.flatten()).view(m, draws, -1) - own.unsqueeze(1)
        (z.unsqueeze(2) * offsets).sum(1)

    def bag_mix() -> None:
        mixed = torch.nn.functional.embedding_bag(neighbours, x, per_sample_weights=z, mode="sum")
        torch.addcmul(mixed, z.sum(1, keepdim=True), x.index_select(0, vertices), value=-1)

    graph = f"{len(cdf):,} edges of {n:,} points"
    return [
        ("edges: searchsorted / alias", f"{batch_size:,} of {graph}", search_edges, alias_edges),
        (
            "neighbours: searchsorted / alias",
            f"{m:,} x {draws} of {graph}",
            search_rows,
            alias_rows,
        ),
        (
            "neighbour mix: gathered / bag",
            f"{m:,} x {draws} rows of {n:,} x {dim}",
            gathered_mix,
            bag_mix,
        ),
    ]


def fit_seconds(X: np.ndarray, epochs: int) -> float:
    """Seconds of a default ``GlassBoxUMAP(random_state=0).fit(X)`` with ``epochs``."""
    from glass_box_umap import GlassBoxUMAP

    start = time.perf_counter()
    GlassBoxUMAP(random_state=0, quiet=True, epochs=epochs).fit(X)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Print the kernel table and the whole-fit comparison; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per kernel")
    parser.add_argument("--quick", action="store_true", help="few repeats, a 5-epoch fit")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else max(1, args.repeats)
    epochs = 5 if args.quick else 200

    for line in header():
        print(line)
    print(f"median of {repeats} forward + backward passes, ms")
    print()
    cases = [
        ("UMAP loss", "digits: 1,203 rows, 10,000 edges", loss_pair(1203, 10_000)),
        ("UMAP loss", "swiss roll: ~700 rows, 512 edges", loss_pair(700, 512)),
        (
            "PReLU",
            "MLP hidden layer, 1,203 x 128",
            layer_pair(prelu(1, torch.nn.PReLU), prelu(1, _prelu.TrainingPReLU), (1203, 128)),
        ),
        (
            "PReLU",
            "conv block, 1,203 x 16 x 8 x 8",
            layer_pair(
                prelu(16, torch.nn.PReLU), prelu(16, _prelu.TrainingPReLU), (1203, 16, 8, 8)
            ),
        ),
        (
            "batch RMS",
            "MLP hidden layer, 1,203 x 128",
            layer_pair(
                _AutogradRMS(torch.ones(128)).train(),
                normalisation.BatchRMS(torch.ones(128)).train(),
                (1203, 128),
            ),
        ),
    ]
    rows = [["part", "shape", "autograd ms", "ours ms", "autograd / ours"]]
    for part, shape, (plain, ours) in cases:
        a, b = median_ms(plain, repeats), median_ms(ours, repeats)
        rows.append([part, shape, f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}x"])
    print(format_table(rows))
    print(flush=True)

    rows = [["part", "shape", "two functions ms", "one function ms", "two / one"]]
    for shape, n_rows in (("digits", 1203), ("medium step", 12_500)):
        a, b = (median_ms(step, repeats) for step in prelu_rms_pair(n_rows))
        rows.append(
            ["PReLU + batch RMS", f"{shape}: {n_rows:,} x 128"]
            + [f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}x"]
        )
    print(format_table(rows))
    print(flush=True)

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from generalization import load_split

    n = 2_000 if args.quick else 20_000
    whole, chunked, encoded = across_noise_pair(n, 50, 10_000)
    a, b = median_ms(whole, repeats), median_ms(chunked, repeats)
    rows = [
        ["part", "shape", "one piece ms", "chunks ms", "one piece / chunks"],
        ["across noise", f"{encoded:,} of {n:,} x 50 rows"]
        + [f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}x"],
    ]
    print(format_table(rows))
    print(flush=True)

    rows = [["draws and mix", "shape", "before ms", "ours ms", "before / ours"]]
    for n in (1_203, 2_000 if args.quick else 20_000):
        for part, shape, before, ours in draw_pairs(n, 50, 10_000):
            a, b = median_ms(before, repeats), median_ms(ours, repeats)
            rows.append([part, shape, f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}x"])
    print(format_table(rows))
    print(flush=True)

    X = load_split("digits", 0)[0]
    fit_seconds(X[:200], 2)  # imports and Lightning's set-up, not timed
    with autograd_everywhere():
        before = fit_seconds(X, epochs)
    after = fit_seconds(X, epochs)
    rows = [
        ["fit", "seconds", "ratio to autograd"],
        [f"autograd backward passes, {epochs} epochs", f"{before:.2f}", "1.00x"],
        [f"hand-written (shipped), {epochs} epochs", f"{after:.2f}", f"{after / before:.2f}x"],
    ]
    print(f"default fit on {len(X)} training digits:")
    print(format_table(rows, n_left=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
