"""How good is the map on points it was not trained on? Our defaults against umap-learn's.

Usage::

    python benchmarks/generalization.py [--datasets digits wine iris] [--quick]
                                        [--set lr=0.01 --set input_noise=0.5]

For each data set: a stratified split (``train_test_split(test_size=0.33, random_state=0,
stratify=y)``), a ``StandardScaler`` fitted on the train part, then ``GlassBoxUMAP`` and
``umap.UMAP`` with their defaults and ``random_state=0``, fitted on the train part in this
one process (each after a warm-up fit, so that imports, Lightning's set-up and numba's JIT
are not timed). Printed per method:

* ``held-out acc``: a 10-NN classifier fitted on the train embedding, scored on
  ``transform(test)``;
* ``trust test`` / ``trust train``: trustworthiness (15 neighbours) of the test embedding
  against the test inputs, and of the train embedding against the train inputs;
* ``fit s``: wall-clock seconds of ``fit``.

Then ours minus umap-learn's, and ours / umap-learn's fit time. ``--set name=value``
(repeatable) changes one of our parameters, to compare settings against the same
baseline. ``--quick`` fits iris only, with 20 epochs, to check that the script runs.
Nothing here asserts or fails on speed or quality.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from _common import format_table, header

DATASETS = ("digits", "wine", "iris")


@dataclass
class Scores:
    """One method on one split.

    Attributes
    ----------
    accuracy : float
        10-NN accuracy on the held-out embedding, classifier fitted on the train embedding.
    trust_test, trust_train : float
        Trustworthiness (15 neighbours) of the test and train embeddings.
    fit_s : float
        Seconds of ``fit``.
    """

    accuracy: float
    trust_test: float
    trust_train: float
    fit_s: float


def load_split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised stratified train/test split of a bundled scikit-learn data set.

    Parameters
    ----------
    name : {'digits', 'wine', 'iris'}

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float64
    X_test : ndarray of shape (n_test, n_features), float64
    y_train : ndarray of shape (n_train,)
    y_test : ndarray of shape (n_test,)
    """
    from sklearn.datasets import load_digits, load_iris, load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader = {"digits": load_digits, "wine": load_wine, "iris": load_iris}[name]
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.33, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def score(
    fit: Callable[[np.ndarray], Any],
    X_train: np.ndarray,
    X_test: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
) -> Scores:
    """Fit with ``fit(X_train)`` (returns a fitted transformer) and score its maps.

    Parameters
    ----------
    fit : callable
        ``fit(X)`` -> fitted object with ``transform`` and ``embedding_``.
    X_train, X_test : ndarray of shape (n, n_features)
    y_train, y_test : ndarray of shape (n,)

    Returns
    -------
    Scores
    """
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier

    start = time.perf_counter()
    model = fit(X_train)
    fit_s = time.perf_counter() - start
    train = np.asarray(model.embedding_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = np.asarray(model.transform(X_test))
    accuracy = KNeighborsClassifier(10).fit(train, y_train).score(test, y_test)
    return Scores(
        accuracy=float(accuracy),
        trust_test=float(trustworthiness(X_test, test, n_neighbors=15)),
        trust_train=float(trustworthiness(X_train, train, n_neighbors=15)),
        fit_s=fit_s,
    )


def ours(params: dict[str, Any]) -> Callable[[np.ndarray], Any]:
    """``GlassBoxUMAP(random_state=0, quiet=True, **params).fit``."""
    from glass_box_umap import GlassBoxUMAP

    return GlassBoxUMAP(random_state=0, quiet=True, **params).fit


def umap_learn(X: np.ndarray) -> Any:
    """``umap.UMAP(random_state=0).fit(X)``, warnings silenced."""
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return umap.UMAP(random_state=0).fit(X)


def warm_up() -> None:
    """One tiny fit of each method, so that imports and JIT compilation are not timed."""
    X = np.random.default_rng(0).normal(size=(200, 8))
    umap_learn(X).transform(X[:20])
    ours({"epochs": 2})(X).transform(X[:20])


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``['lr=0.01', 'input_noise=0']`` -> ``{'lr': 0.01, 'input_noise': 0}``.

    Values are Python literals (numbers, None, dicts); anything else stays a string.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set: expected name=value, got {pair!r}")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the tables; returns 0 (nothing is asserted)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--quick", action="store_true", help="iris only, 20 epochs")
    args = parser.parse_args(argv)
    params = parse_settings(args.set)
    datasets = args.datasets
    if args.quick:
        datasets, params = ["iris"], {"epochs": 20, **params}

    for line in header(("umap-learn",)):
        print(line)
    print(f"ours: GlassBoxUMAP(random_state=0, quiet=True, **{params}); umap-learn: defaults")
    print("split: train_test_split(test_size=0.33, random_state=0, stratify=y), StandardScaler")
    print()
    sys.stdout.flush()
    warm_up()

    rows = [["dataset", "method", "held-out acc", "trust test", "trust train", "fit s"]]
    ratio_rows = [["dataset", "acc ours-umap", "trust test", "trust train", "fit ours/umap"]]
    for name in datasets:
        split = load_split(name)
        results = {
            "glass_box_umap": score(ours(params), *split),
            "umap-learn": score(umap_learn, *split),
        }
        for method, s in results.items():
            rows.append(
                [
                    name,
                    method,
                    f"{s.accuracy:.4f}",
                    f"{s.trust_test:.4f}",
                    f"{s.trust_train:.4f}",
                    f"{s.fit_s:.2f}",
                ]
            )
        a, b = results["glass_box_umap"], results["umap-learn"]
        ratio_rows.append(
            [
                name,
                f"{a.accuracy - b.accuracy:+.4f}",
                f"{a.trust_test - b.trust_test:+.4f}",
                f"{a.trust_train - b.trust_train:+.4f}",
                f"{a.fit_s / b.fit_s:.2f}x",
            ]
        )
    print(format_table(rows))
    print()
    print(format_table(ratio_rows, n_left=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
