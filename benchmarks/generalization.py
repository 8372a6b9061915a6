"""How good is the map on points it was not trained on? Our defaults against umap-learn's.

Usage::

    python benchmarks/generalization.py [--datasets digits wine iris] [--seeds 5]
                                        [--first-seed 0] [--train-size N] [--quick]
                                        [--set lr=0.01 --set input_noise=0.5]
                                        [--budget 2 4 8 16 | --sweep across_noise 0 1 1.5
                                         | --errors 5]

``--datasets`` also takes ``breast_cancer``, bundled data no default was chosen on (a
check that the choices carry over); a default run scores the three above.

For each data set and seed ``s`` (``--first-seed`` .. ``--first-seed + --seeds - 1``,
0 .. 4 with ``--seeds 5``): a stratified split
(``train_test_split(test_size=0.33, random_state=s, stratify=y)``), a ``StandardScaler``
fitted on the train part (``--train-size N``: on a stratified subsample of N of its rows,
drawn with the same seed; the test part stays whole), then ``GlassBoxUMAP`` and
``umap.UMAP`` with their defaults and ``random_state=s``, fitted on the train part in this
one process (each after a warm-up fit, so that imports, Lightning's set-up and numba's JIT
are not timed). Printed per method: seed 0's scores, then, with several seeds, the mean
and the spread (min-max) over all of them. The scores:

* ``held-out acc``: a 10-NN classifier fitted on the train embedding, scored on
  ``transform(test)``;
* ``trust test`` / ``trust train``: trustworthiness (15 neighbours) of the test embedding
  against the test inputs, and of the train embedding against the train inputs;
* ``fit s``: wall-clock seconds of ``fit``.

Then ours minus umap-learn's, and ours / umap-learn's fit time; with several seeds each
difference is the mean of the per-seed differences (both fitted on the same split) with
its standard error, ``+- sd / sqrt(n)``: a gap within about two of those is the seeds'
noise. ``--set name=value``
(repeatable) changes one of our parameters, to compare settings against the same
baseline. ``--budget n1 n2 ...`` measures the step budget instead: ours with
``num_batches=n`` (n optimiser steps per epoch, ``epochs * n`` in all) for each n, against
umap-learn on the same splits, one line per budget (mean over the seeds, fit seconds and
their ratio to umap-learn's, and the held-out accuracy's paired difference from
umap-learn's with its standard error). ``--sweep name v1 v2 ...`` does the same for any other of
our parameters, one line per value (the frontier of a regulariser's strength, say).
``--errors N`` lists, per data set, the N rows each method misclassifies more often than
the other over the seeds, and the totals: a gap can be one or two points (see
:func:`error_table`). ``--quick`` fits iris only, with 20 epochs,
to check that the script runs. Nothing here asserts or fails on speed or quality.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from _common import format_table, header, parse_settings

#: The data sets a default run scores (the issue's targets are set on them).
DATASETS = ("digits", "wine", "iris")
#: Also available with ``--datasets``: bundled data no default was chosen on, to check
#: that what was chosen on the three carries over (569 tumours, 30 measurements, 2
#: classes).
EXTRA_DATASETS = ("breast_cancer",)


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
    correct : ndarray of shape (n_test,), bool, optional
        Per test row (in the split's order), whether the 10-NN classifier got it right.
    """

    accuracy: float
    trust_test: float
    trust_train: float
    fit_s: float
    correct: np.ndarray | None = field(default=None, repr=False)


#: The figures of :class:`Scores` that are averaged and compared.
FIELDS = ("accuracy", "trust_test", "trust_train", "fit_s")


def _loader(name: str) -> Callable[..., Any]:
    """scikit-learn's loader of a bundled data set."""
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

    return {
        "digits": load_digits,
        "wine": load_wine,
        "iris": load_iris,
        "breast_cancer": load_breast_cancer,
    }[name]


def load_split(
    name: str, seed: int = 0, train_size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised stratified train/test split of a bundled scikit-learn data set.

    Parameters
    ----------
    name : {'digits', 'wine', 'iris', 'breast_cancer'}
    seed : int
        ``random_state`` of the split (and of the subsample).
    train_size : int, optional
        Keep a stratified subsample of this many training rows (the test part stays
        whole), to measure how a setting depends on the number of samples.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float64
    X_test : ndarray of shape (n_test, n_features), float64
    y_train : ndarray of shape (n_train,)
    y_test : ndarray of shape (n_test,)
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = _loader(name)(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.33, random_state=seed, stratify=y
    )
    if train_size is not None and train_size < len(y_train):
        X_train, _, y_train, _ = train_test_split(
            X_train, y_train, train_size=train_size, random_state=seed, stratify=y_train
        )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def held_out_rows(name: str, seed: int = 0) -> np.ndarray:
    """Rows of the data set that :func:`load_split` puts in the test part, in its order.

    The same ``train_test_split`` call on the row numbers: the split depends only on the
    number of rows, the labels and the seed.

    Parameters
    ----------
    name : {'digits', 'wine', 'iris', 'breast_cancer'}
    seed : int
        ``random_state`` of the split.

    Returns
    -------
    ndarray of shape (n_test,), int
    """
    from sklearn.model_selection import train_test_split

    _, y = _loader(name)(return_X_y=True)
    rows = np.arange(len(y))
    return train_test_split(rows, test_size=0.33, random_state=seed, stratify=y)[1]


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
    correct = KNeighborsClassifier(10).fit(train, y_train).predict(test) == y_test
    return Scores(
        accuracy=float(correct.mean()),
        trust_test=float(trustworthiness(X_test, test, n_neighbors=15)),
        trust_train=float(trustworthiness(X_train, train, n_neighbors=15)),
        fit_s=fit_s,
        correct=correct,
    )


def ours(params: dict[str, Any], seed: int = 0) -> Callable[[np.ndarray], Any]:
    """``GlassBoxUMAP(random_state=seed, quiet=True, **params).fit``."""
    from glass_box_umap import GlassBoxUMAP

    return GlassBoxUMAP(**{"random_state": seed, "quiet": True, **params}).fit


def umap_learn(seed: int = 0) -> Callable[[np.ndarray], Any]:
    """``umap.UMAP(random_state=seed).fit``, warnings silenced."""
    import umap

    def fit(X: np.ndarray) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return umap.UMAP(random_state=seed).fit(X)

    return fit


def warm_up() -> None:
    """One tiny fit of each method, so that imports and JIT compilation are not timed."""
    X = np.random.default_rng(0).normal(size=(200, 8))
    umap_learn()(X).transform(X[:20])
    ours({"epochs": 2})(X).transform(X[:20])


def summary(scores: list[Scores]) -> list[str]:
    """Seed 0's four figures, then (several seeds) each one's mean and min-max spread."""
    first = [
        f"{getattr(scores[0], f):.4f}" if f != "fit_s" else f"{scores[0].fit_s:.2f}" for f in FIELDS
    ]
    if len(scores) == 1:
        return first
    spread = []
    for f in FIELDS:
        values = np.array([getattr(s, f) for s in scores])
        digits = 2 if f == "fit_s" else 3
        spread.append(
            f"{values.mean():.{digits}f} ({values.min():.{digits}f}-{values.max():.{digits}f})"
        )
    return first + spread


def paired_difference(ours: list[Scores], theirs: list[Scores], field: str) -> str:
    """Mean of ``ours - theirs`` per seed for one score, with its standard error.

    Both lists hold one score per seed, on the same splits, so the per-seed differences
    are paired: their standard error (``std / sqrt(n)``) says whether a mean gap is more
    than the seeds' noise. With one seed there is no error to give.

    Parameters
    ----------
    ours, theirs : list of Scores
        Same seeds, same order.
    field : str
        A field of :class:`Scores`.

    Returns
    -------
    str
        ``"+0.0123 +- 0.0045"``, or ``"+0.0123"`` for one seed.
    """
    diff = np.array(
        [getattr(a, field) - getattr(b, field) for a, b in zip(ours, theirs, strict=True)]
    )
    if len(diff) < 2:
        return f"{diff.mean():+.4f}"
    return f"{diff.mean():+.4f} +- {diff.std(ddof=1) / np.sqrt(len(diff)):.4f}"


def error_table(
    rows: list[np.ndarray],
    labels: np.ndarray,
    ours: list[Scores],
    theirs: list[Scores],
    top: int,
) -> list[list[str]]:
    """The data set's rows that one method misclassifies more often than the other.

    Over the seeds, each row of the data set is in some of the test parts; per row, count
    the seeds in which each method's held-out 10-NN classifier got it wrong. A gap in
    mean accuracy is the sum of these counts' differences, divided by the number of test
    predictions: a few rows can make most of it.

    Parameters
    ----------
    rows : list of ndarray
        Per seed, the data set's rows of the test part (:func:`held_out_rows`).
    labels : ndarray of shape (n_samples,)
        The data set's classes.
    ours, theirs : list of Scores
        Per seed, on the same splits, with ``correct`` set.
    top : int
        Rows to list on each side.

    Returns
    -------
    list of list of str
        A header and, first, up to ``top`` rows ours gets wrong more often (most first),
        then up to ``top`` that umap-learn gets wrong more often: the row, its class, the
        seeds it was held out in, each method's wrong count and their difference (ours
        minus umap-learn's); last, the same over all rows (held-out predictions, errors
        and their difference).
    """
    n_rows = len(labels)
    held_out = np.zeros(n_rows, int)
    wrong = {"ours": np.zeros(n_rows, int), "theirs": np.zeros(n_rows, int)}
    for test, a, b in zip(rows, ours, theirs, strict=True):
        held_out[test] += 1
        np.add.at(wrong["ours"], test, ~a.correct)
        np.add.at(wrong["theirs"], test, ~b.correct)
    diff = wrong["ours"] - wrong["theirs"]
    table = [["row", "class", "held out", "ours wrong", "umap-learn wrong", "difference"]]
    worse = [i for i in np.argsort(-diff, kind="stable")[:top] if diff[i] > 0]
    better = [i for i in np.argsort(diff, kind="stable")[:top] if diff[i] < 0]
    for i in worse + better:
        counts = (held_out[i], wrong["ours"][i], wrong["theirs"][i])
        table.append([str(i), str(labels[i]), *map(str, counts), f"{diff[i]:+d}"])
    totals = (held_out.sum(), wrong["ours"].sum(), wrong["theirs"].sum())
    table.append(["all rows", "", *map(str, totals), f"{diff.sum():+d}"])
    return table


def sweep_table(
    datasets: list[str],
    seeds: range,
    params: dict[str, Any],
    name: str,
    values: list[Any],
    train_size: int | None = None,
) -> None:
    """Print, per data set, held-out quality and fit time for each value of one parameter.

    With ``name='num_batches'`` (``--budget``) the table is the step budget: a line per
    number of optimiser steps, ``epochs * num_batches``.

    Parameters
    ----------
    datasets : list of str
    seeds : range
        Split and fit seeds.
    params : dict
        Our other parameters (``name`` is set per line).
    name : str
        The parameter swept.
    values : list
        Its values, one line each.
    train_size : int, optional
        Training rows kept per split (:func:`load_split`).
    """

    def quality(scores: list[Scores]) -> list[str]:
        return [
            f"{np.mean([getattr(s, f) for s in scores]):.3f}"
            for f in ("accuracy", "trust_test", "trust_train")
        ]

    epochs = params.get("epochs", 200)
    label = "steps" if name == "num_batches" else name
    head = [
        "dataset",
        label,
        "held-out acc",
        "acc - umap (se)",
        "trust test",
        "trust train",
        "fit s",
        "fit / umap",
    ]
    rows = [head]
    for data in datasets:
        splits = [load_split(data, seed, train_size) for seed in seeds]
        base = [score(umap_learn(seed), *split) for seed, split in zip(seeds, splits, strict=True)]
        base_s = float(np.mean([s.fit_s for s in base]))
        acc, *trust = quality(base)
        rows.append([data, "umap-learn", acc, "", *trust, f"{base_s:.2f}", "1.00x"])
        for value in values:
            run = {**params, name: value}
            scores = [
                score(ours(run, seed), *split) for seed, split in zip(seeds, splits, strict=True)
            ]
            fit_s = float(np.mean([s.fit_s for s in scores]))
            shown = str(epochs * value) if name == "num_batches" else repr(value)
            acc, *trust = quality(scores)
            gap = paired_difference(scores, base, "accuracy")
            rows.append([data, shown, acc, gap, *trust, f"{fit_s:.2f}", f"{fit_s / base_s:.2f}x"])
            print(format_table(rows), flush=True)
            print(flush=True)
    steps = "; steps = epochs x num_batches" if name == "num_batches" else ""
    print(f"mean over seeds {seeds.start}-{seeds.stop - 1}{steps}")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the tables; returns 0 (nothing is asserted)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS + EXTRA_DATASETS, default=list(DATASETS)
    )
    parser.add_argument("--seeds", type=int, default=1, help="N splits and fit seeds")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds FIRST..FIRST+N-1 (default 0)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--train-size", type=int, metavar="N", help="a stratified subsample of N training rows"
    )
    parser.add_argument("--quick", action="store_true", help="iris only, 20 epochs")
    parser.add_argument(
        "--budget", nargs="+", type=int, metavar="NUM_BATCHES", help="step-budget table"
    )
    parser.add_argument(
        "--errors",
        type=int,
        metavar="N",
        help="list the N rows each method misclassifies more often than the other",
    )
    parser.add_argument(
        "--sweep",
        nargs="+",
        metavar=("NAME", "VALUE"),
        help="one line per value of one of our parameters: --sweep across_noise 0 0.5 1",
    )
    args = parser.parse_args(argv)
    params = parse_settings(args.set)
    datasets = args.datasets
    if args.quick:
        datasets, params = ["iris"], {"epochs": 20, **params}
    seeds = range(args.first_seed, args.first_seed + max(1, args.seeds))
    if args.budget and args.sweep:
        parser.error("--budget and --sweep: give one of them")
    if args.errors is not None and (args.budget or args.sweep):
        parser.error("--errors: lists the comparison's rows; not with --budget or --sweep")
    if args.errors is not None and args.errors < 1:
        parser.error(f"--errors: expected at least 1 row, got {args.errors}")
    if args.sweep is not None and len(args.sweep) < 2:
        parser.error("--sweep: expected a parameter name and at least one value")
    if args.train_size is not None and args.train_size < 10:
        parser.error(
            f"--train-size: expected at least 10 rows (one per class), got {args.train_size}"
        )

    for line in header(("umap-learn",)):
        print(line)
    print(f"ours: GlassBoxUMAP(random_state=s, quiet=True, **{params}); umap-learn: defaults")
    print(
        "split: train_test_split(test_size=0.33, random_state=s, stratify=y), StandardScaler; "
        f"seeds s = {', '.join(map(str, seeds))}"
    )
    if args.train_size is not None:
        print(f"train part: a stratified subsample of {args.train_size} rows (same seed)")
    print()
    sys.stdout.flush()
    warm_up()
    if args.budget:
        sweep_table(datasets, seeds, params, "num_batches", args.budget, args.train_size)
        return 0
    if args.sweep:
        name, *values = args.sweep
        parsed = [parse_settings([f"{name}={value}"])[name] for value in values]
        sweep_table(datasets, seeds, params, name, parsed, args.train_size)
        return 0

    columns = ["held-out acc", "trust test", "trust train", "fit s"]
    head = ["dataset", "method", *[f"{c} (seed 0)" for c in columns]]
    if len(seeds) > 1:
        head += [f"{c} mean (min-max)" for c in columns]
    rows = [head]
    ratio_rows = [["dataset", "acc ours-umap", "trust test", "trust train", "fit ours/umap"]]
    for name in datasets:
        results: dict[str, list[Scores]] = {"glass_box_umap": [], "umap-learn": []}
        for seed in seeds:
            split = load_split(name, seed, args.train_size)
            results["glass_box_umap"].append(score(ours(params, seed), *split))
            results["umap-learn"].append(score(umap_learn(seed), *split))
        for method, scores in results.items():
            rows.append([name, method, *summary(scores)])
        mean = {
            method: {f: np.mean([getattr(s, f) for s in scores]) for f in FIELDS}
            for method, scores in results.items()
        }
        a, b = mean["glass_box_umap"], mean["umap-learn"]
        ratio_rows.append(
            [
                name,
                *[
                    paired_difference(results["glass_box_umap"], results["umap-learn"], f)
                    for f in ("accuracy", "trust_test", "trust_train")
                ],
                f"{a['fit_s'] / b['fit_s']:.2f}x",
            ]
        )
        print(format_table(rows))
        print(flush=True)
        if args.errors:
            errors = error_table(
                [held_out_rows(name, seed) for seed in seeds],
                _loader(name)(return_X_y=True)[1],
                results["glass_box_umap"],
                results["umap-learn"],
                args.errors,
            )
            print(f"{name}: rows misclassified more often by one method, over the seeds")
            print(format_table(errors))
            print(flush=True)
    print(
        f"ours minus umap-learn, mean over {len(seeds)} seed(s)"
        + (" +- the standard error of the paired per-seed differences:" if len(seeds) > 1 else ":")
    )
    print(format_table(ratio_rows, n_left=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
