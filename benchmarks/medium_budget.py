"""How many steps does medium data need? Held-out quality by step budget, against umap-learn.

Usage::

    python benchmarks/medium_budget.py [--data mixture noisy-digits tabular] [--sizes 20000]
        [--budget 4 8 12] [--seeds 1] [--no-baseline] [--set NAME=VALUE] [--quick]

Three kinds of data, n rows each, split 67/33:

``mixture``
    The 10-cluster mixture of ``benchmarks/scale.py`` (n x 50,
    ``train_test_split(test_size=0.33, random_state=seed)``): ten well separated
    low-rank clusters, an easy map.
``noisy-digits``
    sklearn's 1,797 digits, split 67/33 by image (stratified, ``random_state=seed``), then
    n rows drawn from them, 67% from the training images and 33% from the held-out ones:
    each row an image times a brightness drawn from U(0.8, 1.2) plus N(0, 1) noise per
    pixel (values 0-16). A held-out row is a new noisy copy of an image the fit never
    saw in any copy: the digits' map, which must now also ignore the noise, at medium size.
``tabular``
    Few inputs: ``make_classification(n, n_features=10, n_informative=6, n_redundant=2,
    n_classes=8, n_clusters_per_class=2, class_sep=1.0, random_state=0)``, split as the
    mixture. Sixteen overlapping Gaussian clusters in eight classes, as in cytometry or
    sensor tables: at most ``n_neighbors - 1`` inputs, which the neighbour offsets span,
    so no across noise is drawn.

Per data set, size and seed: ``GlassBoxUMAP(random_state=seed, num_batches=k)`` fitted on
the train part for each ``k`` of ``--budget`` (``200 * k`` steps; ``--set name=value``,
repeatable, changes another of our parameters), and ``umap.UMAP
(random_state=seed)`` (unless ``--no-baseline``). Printed, as means over the seeds:
seconds of ``fit`` and the ratio to umap-learn's, trustworthiness (15 neighbours) of the
train embedding and of ``transform(test)``, each on a 3,000-row subsample of its part,
and held-out 10-NN accuracy (a classifier fitted on the train embedding, scored on the
transformed test rows; the mixture's clusters or the digits' classes). 20,000 rows are
searched exactly, 100,000 with pynndescent, whose compilation a warm-up fit pays first.
These runs chose the step budget of data beyond 10,000 samples
(``glass_box_umap.training.EPOCH_EDGES``). ``--quick``: 2,000 rows of each kind,
budgets 1 and 2, 5 epochs, no baseline; its figures mean nothing. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from _common import format_table, header, parse_settings
from scale import make_data

SUBSAMPLE = 3_000
DATA = ("mixture", "noisy-digits", "tabular")


def noisy_digits(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``X_train, X_test, y_train, y_test`` of the ``noisy-digits`` data (module docstring)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    images = train_test_split(np.arange(len(X)), test_size=0.33, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    n_train = round(0.67 * n)
    parts = []
    for rows, count in zip(images, (n_train, n - n_train), strict=True):
        pick = rng.choice(rows, count)
        brightness = rng.uniform(0.8, 1.2, (count, 1))
        noisy = X[pick] * brightness + rng.normal(0.0, 1.0, (count, X.shape[1]))
        parts.append((noisy.astype(np.float32), y[pick]))
    (X_train, y_train), (X_test, y_test) = parts
    return X_train, X_test, y_train, y_test


def load(data: str, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``X_train, X_test, y_train, y_test`` of one data set, size and seed."""
    from sklearn.model_selection import train_test_split

    if data == "noisy-digits":
        return noisy_digits(n, seed)
    if data == "tabular":
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n,
            n_features=10,
            n_informative=6,
            n_redundant=2,
            n_classes=8,
            n_clusters_per_class=2,
            class_sep=1.0,
            random_state=0,
        )
        X = X.astype(np.float32)
    else:
        X, y = make_data(n, 50, return_labels=True)
    return tuple(train_test_split(X, y, test_size=0.33, random_state=seed))


def scores(model, split, on_train, on_test, seconds) -> list[float]:
    """Fit seconds, train and held-out trustworthiness, held-out 10-NN accuracy."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier

    X_train, X_test, y_train, y_test = split
    train = np.asarray(model.embedding_)
    test = np.asarray(model.transform(X_test))
    return [
        seconds,
        trustworthiness(X_train[on_train], train[on_train], n_neighbors=15),
        trustworthiness(X_test[on_test], test[on_test], n_neighbors=15),
        KNeighborsClassifier(10).fit(train, y_train).score(test, y_test),
    ]


def main(argv: list[str] | None = None) -> int:
    """Fit each data set, size and seed at each budget and print the tables; returns 0."""
    from glass_box_umap import GlassBoxUMAP

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=DATA, default=list(DATA))
    parser.add_argument("--sizes", nargs="+", type=int, default=[20_000])
    parser.add_argument("--budget", nargs="+", type=int, default=[4, 8, 12], metavar="NUM_BATCHES")
    parser.add_argument("--seeds", type=int, default=1, help="N splits and fit seeds: 0 .. N-1")
    parser.add_argument("--no-baseline", action="store_true", help="skip umap-learn")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 5 epochs")
    args = parser.parse_args(argv)
    params = parse_settings(args.set)
    if {"num_batches", "epochs"} & set(params):
        parser.error("--set: the budget is --budget (num_batches) and 200 epochs; not settable")
    if args.seeds < 1:
        parser.error(f"--seeds: must be at least 1, got {args.seeds}")
    sizes, budget, epochs, baseline = args.sizes, args.budget, 200, not args.no_baseline
    if args.quick:
        sizes, budget, epochs, baseline = [2_000], [1, 2], 5, False

    for line in header(("umap-learn",) if baseline else ()):
        print(line)
    shown = "".join(f", {name}={value!r}" for name, value in params.items())
    print(
        f"GlassBoxUMAP(random_state=s, num_batches=k, epochs={epochs}{shown}); 67/33 split; ",
        end="",
    )
    print(f"means over seeds 0-{args.seeds - 1}")
    print(flush=True)
    warnings.simplefilter("ignore")
    warm = make_data(2_000, 50)
    GlassBoxUMAP(random_state=0, quiet=True, epochs=1, knn_method="pynndescent").fit(warm)
    if baseline:
        import umap

        umap.UMAP(random_state=0).fit(warm[:500]).transform(warm[:20])

    header_row = ["data", "steps", "fit s", "ratio", "trust train", "trust held-out", "acc"]
    for data in args.data:
        for n in sizes:
            results: dict[str, list[list[float]]] = {}
            for seed in range(args.seeds):
                split = load(data, n, seed)
                rng = np.random.default_rng(seed)
                on_train = rng.choice(len(split[0]), min(SUBSAMPLE, len(split[0])), replace=False)
                on_test = rng.choice(len(split[1]), min(SUBSAMPLE, len(split[1])), replace=False)
                fits = {}
                if baseline:
                    fits["umap-learn"] = umap.UMAP(random_state=seed)
                for k in budget:
                    fits[f"{epochs * k:,}"] = GlassBoxUMAP(
                        random_state=seed, quiet=True, num_batches=k, epochs=epochs, **params
                    )
                for name, model in fits.items():
                    start = time.perf_counter()
                    model.fit(split[0])
                    seconds = time.perf_counter() - start
                    results.setdefault(name, []).append(
                        scores(model, split, on_train, on_test, seconds)
                    )
            base = np.mean(results["umap-learn"], axis=0)[0] if baseline else None
            rows = [header_row]
            for name, values in results.items():
                seconds, train, test, accuracy = np.mean(values, axis=0)
                ratio = "" if base is None else f"{seconds / base:.2f}x"
                label = f"{data} {n:,}"
                rows.append(
                    [
                        label,
                        name,
                        f"{seconds:.1f}",
                        ratio,
                        f"{train:.4f}",
                        f"{test:.4f}",
                        f"{accuracy:.3f}",
                    ]
                )
            print(format_table(rows), flush=True)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
