"""Does the GPU's static-shape sampling cost quality? Both modes on the CPU, same seed.

Usage::

    python benchmarks/sampling_modes.py [--batch-size 512] [--epochs 100] [--quick]

On a CUDA device each step encodes both ends of every sampled edge (``'ends'``: fixed
shapes, so steps queue without host syncs and replay from a CUDA graph) and draws
negatives from those rows, which favours points by degree; on the CPU it encodes the
distinct ends (``'unique'``), as the baseline. This script forces each mode in turn on
the CPU (through ``EdgeSampler(static_shapes=...)``) and fits sklearn's digits with
``batch_size`` small enough that a step does not encode every point (otherwise both
modes encode all of them). Prints trustworthiness (15 neighbours), 10-NN accuracy
(5-fold) and fit seconds, and the ratio of each to the ``'unique'`` baseline. Before the
timed fits, one short fit per mode warms up imports, Lightning and the allocator, so that
the first timed fit does not pay for them. ``--quick`` (300 digits, batch 64, 2 epochs of
10 steps) checks that the script runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import time

from _common import format_table, header
from sklearn.datasets import load_digits
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from glass_box_umap import GlassBoxUMAP, sampling


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=100)
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


if __name__ == "__main__":
    main()
