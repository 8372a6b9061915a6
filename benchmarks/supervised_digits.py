"""How much class labels separate digits: fit(X) against fit(X, y), same seed.

Usage::

    python benchmarks/supervised_digits.py [--target-weight 0.5] [--quick]

Prints, for sklearn's digits with default parameters, the silhouette score of the
embedding by class and the 5-fold accuracy of a 10-NN classifier on it. The accuracy
of the supervised embedding is in-sample (its labels shaped the graph); the silhouette
is the fairer measure of how much the labels pull classes apart. A short fit first warms
up imports, Lightning and the allocator, so that the first timed fit does not pay for
them. ``--quick`` (300 digits, 3 epochs) checks that the script runs; its figures mean
nothing.
"""

from __future__ import annotations

import argparse
import time

from _common import format_table, header
from sklearn.datasets import load_digits
from sklearn.metrics import silhouette_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from glass_box_umap import GlassBoxUMAP


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target-weight", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="300 digits, 3 epochs: a smoke test")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    params = {}
    if args.quick:
        X, y, params = X[:300], y[:300], {"epochs": 3}
    for line in header():
        print(line)
    GlassBoxUMAP(random_state=0, quiet=True, epochs=2).fit(X[:200], y[:200])  # warm-up
    rows = [["fit", "seconds", "silhouette", "10-NN acc"]]
    for name, labels in (("fit(X)", None), ("fit(X, y)", y)):
        reducer = GlassBoxUMAP(
            random_state=0, quiet=True, target_weight=args.target_weight, **params
        )
        start = time.perf_counter()
        emb = reducer.fit_transform(X, labels)
        seconds = time.perf_counter() - start
        accuracy = cross_val_score(KNeighborsClassifier(10), emb, y, cv=5).mean()
        rows.append([name, f"{seconds:.1f}", f"{silhouette_score(emb, y):.3f}", f"{accuracy:.4f}"])
    print(f"\ndigits {X.shape}, defaults {params}, target_weight={args.target_weight}")
    print(format_table(rows, n_left=1))


if __name__ == "__main__":
    main()
