"""What watching a fit costs: EmbeddingSnapshots against the same fit without it.

Usage::

    python benchmarks/snapshot_overhead.py [--dataset digits] [--repeats 3] [--epochs 200] [--quick]

Fits GlassBoxUMAP with default parameters (200 epochs, batch 10,000) on sklearn's digits,
alternately without callbacks and with ``EmbeddingSnapshots(X, every_n_epochs=10)``
following a 1,000-point subsample (21 snapshots), and prints the median fit seconds and
their ratio. ``--every`` changes the snapshot interval. Both fits use the same seed, so
they do the same training work. Timings are informative; nothing fails on speed.
``--quick`` (300 samples, 4 epochs, a snapshot every 2, once) checks that the script
runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import format_table, header
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from glass_box_umap import EmbeddingSnapshots, GlassBoxUMAP


def load(name: str) -> np.ndarray:
    """Standardised wine, or digits as given (pixel intensities 0-16)."""
    if name == "wine":
        return StandardScaler().fit_transform(load_wine().data)
    return load_digits().data


def timed_fit(X: np.ndarray, epochs: int, every: int | None) -> tuple[float, int]:
    """Seconds for one default fit, and the number of snapshots taken."""
    callbacks = [] if every is None else [EmbeddingSnapshots(X, every_n_epochs=every)]
    reducer = GlassBoxUMAP(epochs=epochs, random_state=0, quiet=True, extra_callbacks=callbacks)
    start = time.perf_counter()
    reducer.fit(X)
    seconds = time.perf_counter() - start
    return seconds, (len(callbacks[0]) if callbacks else 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "wine"), default="digits")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 samples, 4 epochs: a smoke test")
    args = parser.parse_args(argv)

    X = load(args.dataset)
    if args.quick:
        X = X[:300]
        args.repeats, args.epochs, args.every = 1, 4, 2
    for line in header():
        print(line)
    timed_fit(X[:200], 2, args.every)  # warm-up: imports, Lightning, allocator
    plain, snapped, n_snapshots = [], [], 0
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both
        plain.append(timed_fit(X, args.epochs, None)[0])
        seconds, n_snapshots = timed_fit(X, args.epochs, args.every)
        snapped.append(seconds)
    base, watched = statistics.median(plain), statistics.median(snapped)
    print(
        f"\n{args.dataset} {X.shape[0]}x{X.shape[1]}, {args.epochs} epochs, "
        f"median of {args.repeats}; snapshots of 1,000 points every {args.every} epochs"
    )
    rows = [
        ["fit", "snapshots", "seconds", "ratio"],
        ["plain", "0", f"{base:.2f}", "1.000"],
        ["with EmbeddingSnapshots", str(n_snapshots), f"{watched:.2f}", f"{watched / base:.3f}"],
    ]
    print(format_table(rows, n_left=1))


if __name__ == "__main__":
    main()
