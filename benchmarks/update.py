"""Refitting on a new data release: does the layout of the old points stay where it was?

Usage::

    python benchmarks/update.py [--quick] [--landmark-weight 1.0]

Digits (StandardScaler on all 1,797 rows), shuffled with ``random_state=0``: a model is
fitted on the first 1,000 rows (defaults, ``random_state=0``), then refitted on all 1,797
rows three ways:

* ``warm_start + landmarks``: ``warm_start=True`` and ``landmark_positions`` holding the
  old embedding of the first 1,000 rows (NaN for the 797 new ones);
* ``warm_start``: the same continuation, without landmarks;
* ``fresh fit``: a new model (``random_state=1``) on all rows.

Printed per method: the median displacement of the 1,000 old points between the old
embedding and the new one, in units of the old embedding's spread (mean distance of a
point to the centroid); the trustworthiness (15 neighbours) of the 797 new points'
embedding against their inputs, and of all 1,797; the 10-NN accuracy of the new points'
digit predicted from the old points' embedding (how well the new points land among old
ones of their class); and the fit seconds. Nothing here asserts or fails.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from _common import format_table, header


def spread(embedding: np.ndarray) -> float:
    """Mean distance of a point to the centroid."""
    return float(np.linalg.norm(embedding - embedding.mean(axis=0), axis=1).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 epochs: check that it runs")
    parser.add_argument("--landmark-weight", type=float, default=1.0)
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    from glass_box_umap import GlassBoxUMAP

    warnings.filterwarnings("ignore")
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.data))
    X = StandardScaler().fit_transform(digits.data)[order]
    y = digits.target[order]
    n_old = 1000
    kw = dict(random_state=0, quiet=True)
    if args.quick:
        kw["epochs"] = 20

    start = time.perf_counter()
    old = GlassBoxUMAP(**kw).fit(X[:n_old])
    old_seconds = time.perf_counter() - start
    unit = spread(old.embedding_)
    positions = np.full((len(X), old.embedding_.shape[1]), np.nan)
    positions[:n_old] = old.embedding_

    def continued(landmarks: bool) -> GlassBoxUMAP:
        import copy

        model = copy.deepcopy(old).set_params(warm_start=True, landmark_weight=args.landmark_weight)
        return model.fit(X, landmark_positions=positions if landmarks else None)

    methods = {
        "warm_start + landmarks": lambda: continued(True),
        "warm_start": lambda: continued(False),
        "fresh fit": lambda: GlassBoxUMAP(**{**kw, "random_state": 1}).fit(X),
    }
    rows = [
        [
            "method",
            "old points moved (median, x spread)",
            "trust new",
            "trust all",
            "new among old 10-NN acc",
            "fit s",
        ]
    ]
    for name, fit in methods.items():
        start = time.perf_counter()
        model = fit()
        seconds = time.perf_counter() - start
        emb = model.embedding_
        moved = np.median(np.linalg.norm(emb[:n_old] - old.embedding_, axis=1)) / unit
        knn = KNeighborsClassifier(10).fit(emb[:n_old], y[:n_old])
        rows.append(
            [
                name,
                f"{moved:.3f}",
                f"{trustworthiness(X[n_old:], emb[n_old:], n_neighbors=15):.4f}",
                f"{trustworthiness(X, emb, n_neighbors=15):.4f}",
                f"{knn.score(emb[n_old:], y[n_old:]):.3f}",
                f"{seconds:.1f}",
            ]
        )
    print("\n".join(header()))
    print(
        f"digits: old model on {n_old} rows ({old_seconds:.1f} s), refit on {len(X)}; "
        f"landmark_weight={args.landmark_weight}{', quick' if args.quick else ''}"
    )
    print(format_table(rows, n_left=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
