"""Does the GPU's static-shape sampling cost quality? Both modes on the CPU, same seed.

Usage::

    python benchmarks/sampling_modes.py [--batch-size 512] [--epochs 100] [--step-time] [--quick]

On a CUDA device each step encodes both ends of every sampled edge (``'ends'``: fixed
shapes, so steps queue without host syncs and replay from a CUDA graph) and draws
negatives from those rows, which favours points by degree; on the CPU it encodes the
distinct ends (``'unique'``), as the baseline. This script forces each mode in turn on
the CPU (through ``EdgeSampler(static_shapes=...)``) and fits sklearn's digits with
``batch_size`` small enough that a step does not encode every point (otherwise both
modes encode all of them). Prints trustworthiness (15 neighbours), 10-NN accuracy
(5-fold) and fit seconds, and the ratio of each to the ``'unique'`` baseline. Before the
timed fits, one short fit per mode warms up imports, Lightning and the allocator, so that
the first timed fit does not pay for them.

``--step-time`` adds what a step costs in each mode where a step does not touch most
points: the 10-cluster mixture of ``benchmarks/scale.py`` at 100k x 50, its UMAP graph
(15 neighbours, pynndescent, about a minute on 2 cores), ``batch_size=10_000`` and the
default encoder; one step is sampling, forward, loss, backward and the fused Adam update,
timed outside Lightning, and the figure is the best of 4 runs of 10 steps (after 3
warm-up steps), in milliseconds, with the rows encoded per step. The ``EdgeSampler``
docstring quotes this table. ``--quick`` (300 digits, batch 64, 2 epochs of 10 steps; the
step table at 2k x 20, batch 256, best of 2 runs of 3 steps) checks that the script runs;
its figures mean nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import format_table, header
from scale import make_data
from sklearn.datasets import load_digits
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from glass_box_umap import GlassBoxUMAP, affinity, sampling
from glass_box_umap.encoders import MLPEncoder
from glass_box_umap.loss import find_ab_params, umap_loss

#: The ``--step-time`` case: rows, columns, batch size, runs, steps per run.
STEP_CASE = (100_000, 50, 10_000, 4, 10)
STEP_CASE_QUICK = (2_000, 20, 256, 2, 3)


def fit_with(
    static_shapes: bool, X, batch_size: int, epochs: int, num_batches: int | None = None
) -> tuple[GlassBoxUMAP, float]:
    """Fit with the sampler's mode forced; the estimator has no knob for it on purpose."""
    original = sampling.EdgeSampler.__init__

    def forced(self, *args, static_shapes=None, **kwargs):
        original(self, *args, static_shapes=forced.value, **kwargs)

    forced.value = static_shapes
    sampling.EdgeSampler.__init__ = forced
    try:
        reducer = GlassBoxUMAP(
            random_state=0,
            quiet=True,
            batch_size=batch_size,
            epochs=epochs,
            num_batches=num_batches,
        )
        start = time.perf_counter()
        reducer.fit(X)
        return reducer, time.perf_counter() - start
    finally:
        sampling.EdgeSampler.__init__ = original


def step_milliseconds(
    X: np.ndarray,
    edges: affinity.EdgeList,
    static_shapes: bool,
    batch_size: int,
    runs: int,
    steps: int,
) -> tuple[float, float]:
    """Best per-step milliseconds over ``runs`` runs of ``steps`` steps, and rows encoded per step.

    One step as the estimator takes it on the CPU, without Lightning around it: an
    ``EdgeSampler`` batch in the forced mode, one forward pass of the default encoder over
    the encoded rows, the UMAP loss (head, tail and 5 negatives per edge, drawn among the
    encoded rows), backward and fused Adam (lr 1e-3); no input noise. Same seeds for both
    modes.
    """
    data = torch.as_tensor(X - X.mean(axis=0), dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    sampler = sampling.EdgeSampler(
        edges, batch_size, 5, torch.device("cpu"), generator, static_shapes=static_shapes
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        encoder = MLPEncoder(X.shape[1], 2)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3, fused=True)
    a, b = find_ab_params(1.0, 0.1)
    encoded = []

    def step() -> None:
        batch = sampler.sample()
        emb = encoder(batch.inputs(data))
        encoded.append(emb.shape[0])
        loss, _, _ = umap_loss(
            emb.index_select(0, batch.head),
            emb.index_select(0, batch.tail),
            emb.index_select(0, batch.negatives.flatten()).view(*batch.negatives.shape, -1),
            a,
            b,
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up: allocator, Adam state
        step()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return 1e3 * best, float(np.mean(encoded))


def step_table(quick: bool) -> None:
    """Print per-step milliseconds of 'unique' and 'ends' sampling (``--step-time``)."""
    n, d, batch_size, runs, steps = STEP_CASE_QUICK if quick else STEP_CASE
    X = make_data(n, d)
    start = time.perf_counter()
    edges = affinity.build_graph(X, n_neighbors=15, random_state=0)
    print(
        f"\nmixture {n}x{d} ({len(edges.head)} directed edges, graph in "
        f"{time.perf_counter() - start:.0f} s), batch_size={batch_size}, default encoder; "
        f"per step: sampling, forward, backward, Adam; best of {runs} runs of {steps} steps"
    )
    results = {
        mode: step_milliseconds(X, edges, static, batch_size, runs, steps)
        for mode, static in (("unique", False), ("ends", True))
    }
    base = results["unique"][0]
    rows = [["mode", "rows encoded", "ms/step", "time ratio"]]
    for mode, (ms, encoded) in results.items():
        rows.append([mode, f"{encoded:.0f}", f"{ms:.1f}", f"{ms / base:.2f}"])
    print(format_table(rows, n_left=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument(
        "--step-time",
        action="store_true",
        help="also time one step of each mode at 100k x 50, batch 10,000 (about 2 minutes)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="300 digits, 2 epochs of 10 steps: a smoke test"
    )
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    if args.quick:
        X, y = X[:300], y[:300]
        args.batch_size, args.epochs = 64, 2
    num_batches = 10 if args.quick else None
    if 2 * args.batch_size >= len(X):
        parser.error(f"--batch-size: must be below {len(X) // 2}, or every point is encoded")
    for line in header():
        print(line)
    print(f"digits {X.shape}, batch_size={args.batch_size}, epochs={args.epochs}, seed 0")
    for static in (False, True):  # warm-up, untimed
        fit_with(static, X[:200], args.batch_size, 1, num_batches=5)
    results = {}
    for mode, static in (("unique", False), ("ends", True)):
        reducer, seconds = fit_with(static, X, args.batch_size, args.epochs, num_batches)
        emb = reducer.embedding_
        results[mode] = (
            trustworthiness(X, emb, n_neighbors=15),
            cross_val_score(KNeighborsClassifier(10), emb, y, cv=5).mean(),
            seconds,
        )
    base = results["unique"]
    rows = [["mode", "trust@15", "10-NN acc", "fit s", "trust ratio", "time ratio"]]
    for mode, (trust, acc, seconds) in results.items():
        rows.append(
            [
                mode,
                f"{trust:.4f}",
                f"{acc:.4f}",
                f"{seconds:.1f}",
                f"{trust / base[0]:.4f}",
                f"{seconds / base[2]:.2f}",
            ]
        )
    print(format_table(rows, n_left=1))
    if args.step_time or args.quick:
        step_table(args.quick)


if __name__ == "__main__":
    main()
