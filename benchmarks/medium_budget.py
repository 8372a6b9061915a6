"""Does medium data need more than 800 steps? Training and held-out trust by budget.

Usage::

    python benchmarks/medium_budget.py [--sizes 20000 100000] [--budget 4 8] [--quick]

For each size n: the 10-cluster mixture of ``benchmarks/scale.py`` (n x 50), split 67/33
(``train_test_split(test_size=0.33, random_state=0)``), then ``GlassBoxUMAP(random_state=0,
num_batches=k)`` fitted on the train part for each ``k`` of ``--budget`` (``200 * k``
steps). Printed per fit: seconds of ``fit``, and trustworthiness (15 neighbours) of the
train embedding and of ``transform(test)``, each scored on a 3,000-row subsample of its
part (the same rows for every budget). 20,000 rows are searched exactly, 100,000 with
pynndescent, whose compilation a warm-up fit (2,000 rows, ``knn_method='pynndescent'``)
pays first. These runs chose
the default beyond 10,000 samples (``glass_box_umap.training.SMALL_DATA``): 800 steps.
``--quick``: 2,000 rows, budgets 1 and 2, 5 epochs. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from _common import format_table, header
from scale import make_data

SUBSAMPLE = 3_000


def main(argv: list[str] | None = None) -> int:
    """Fit each size at each budget and print the table; returns 0."""
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import train_test_split

    from glass_box_umap import GlassBoxUMAP

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[20_000, 100_000])
    parser.add_argument("--budget", nargs="+", type=int, default=[4, 8], metavar="NUM_BATCHES")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 5 epochs")
    args = parser.parse_args(argv)
    sizes, budget, epochs = args.sizes, args.budget, 200
    if args.quick:
        sizes, budget, epochs = [2_000], [1, 2], 5

    for line in header():
        print(line)
    print(f"GlassBoxUMAP(random_state=0, num_batches=k, epochs={epochs}); 67/33 split")
    print(flush=True)
    warnings.simplefilter("ignore")
    warm = make_data(2_000, 50)
    GlassBoxUMAP(random_state=0, quiet=True, epochs=1, knn_method="pynndescent").fit(warm)

    rows = [["n x d", "steps", "fit s", "trust train", "trust held-out"]]
    for n in sizes:
        rng = np.random.default_rng(0)
        X_train, X_test = train_test_split(make_data(n, 50), test_size=0.33, random_state=0)
        on_train = rng.choice(len(X_train), min(SUBSAMPLE, len(X_train)), replace=False)
        on_test = rng.choice(len(X_test), min(SUBSAMPLE, len(X_test)), replace=False)
        for k in budget:
            reducer = GlassBoxUMAP(random_state=0, quiet=True, num_batches=k, epochs=epochs)
            start = time.perf_counter()
            reducer.fit(X_train)
            seconds = time.perf_counter() - start
            test = reducer.transform(X_test)
            train_trust = trustworthiness(
                X_train[on_train], reducer.embedding_[on_train], n_neighbors=15
            )
            test_trust = trustworthiness(X_test[on_test], test[on_test], n_neighbors=15)
            rows.append(
                [
                    f"{n:,} x 50",
                    f"{epochs * k:,}",
                    f"{seconds:.1f}",
                    f"{train_trust:.4f}",
                    f"{test_trust:.4f}",
                ]
            )
        print(format_table(rows), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
