"""How much class labels separate digits: fit(X) against fit(X, y), same seed.

Usage::

    python benchmarks/supervised_digits.py [--target-weight 0.5]

Prints, for sklearn's digits with default parameters, the silhouette score of the
embedding by class and the 5-fold accuracy of a 10-NN classifier on it. The accuracy
of the supervised embedding is in-sample (its labels shaped the graph); the silhouette
is the fairer measure of how much the labels pull classes apart.
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
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    for line in header():
        print(line)
    rows = [["fit", "seconds", "silhouette", "10-NN acc"]]
    for name, labels in (("fit(X)", None), ("fit(X, y)", y)):
        reducer = GlassBoxUMAP(random_state=0, quiet=True, target_weight=args.target_weight)
        start = time.perf_counter()
        emb = reducer.fit_transform(X, labels)
        seconds = time.perf_counter() - start
        accuracy = cross_val_score(KNeighborsClassifier(10), emb, y, cv=5).mean()
        rows.append([name, f"{seconds:.1f}", f"{silhouette_score(emb, y):.3f}", f"{accuracy:.4f}"])
    print(f"\ndigits {X.shape}, defaults, target_weight={args.target_weight}")
    print(format_table(rows, n_left=1))


if __name__ == "__main__":
    main()
