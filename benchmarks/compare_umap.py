"""Compare GlassBoxUMAP's defaults with umap-learn's defaults on small sklearn data sets.

Usage::

    python benchmarks/compare_umap.py [--datasets wine digits swiss_roll] [--repeats 1]
    python benchmarks/compare_umap.py --datasets mixture20k mixture100k
    python benchmarks/compare_umap.py --quick

Both methods are fitted in this one process, each after a warm-up fit on a tiny data set
(umap-learn's numba JIT compilation; our imports and Lightning set-up), so that one-off
start-up costs are not counted. For each data set and method the script reports

* fit seconds (median over ``--repeats``),
* training edges per second: positive edges sampled per second of optimisation
  (ours: ``epochs * steps_per_epoch * min(batch_size, n_edges) / history_['time'][-1]``;
  umap-learn: ``n_epochs * sum(w / max w)`` over the pruned graph, divided by the time
  spent in ``optimize_layout_euclidean``, measured by wrapping that function),
* trustworthiness of the embedding (15 neighbours; on a 3,000-row subsample, the same
  rows for both methods, for data sets above 5,000 rows),
* 5-fold cross-validated accuracy of a 10-NN classifier on the embedding (for the swiss
  roll, labels are the roll parameter ``t`` binned into 10 quantile bins; the mixtures
  ``mixture20k`` and ``mixture100k``, 20,000 and 100,000 x 50 rows of the 10-cluster
  mixture of ``benchmarks/scale.py``, report their cluster labels),

then ours relative to umap-learn. ``--quick`` fits wine only. Timings are informative
only: nothing here asserts or fails on speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from _common import format_table, header

DATASETS = ("wine", "digits", "swiss_roll", "mixture20k", "mixture100k")
#: Data sets run when ``--datasets`` is not given (the mixtures take minutes).
DEFAULT_DATASETS = ("wine", "digits", "swiss_roll")
#: Above this many rows, trustworthiness is computed on a subsample of ``TRUST_ROWS``.
TRUST_FULL_MAX = 5_000
TRUST_ROWS = 3_000


@dataclass
class Result:
    """Measurements of one method on one data set.

    Attributes
    ----------
    dataset : str
    method : str
    fit_s : float
        Median wall-clock seconds of ``fit_transform``.
    edges_per_s : float or None
        Positive edges sampled per second of optimisation, None if not measured.
    trust : float
        Trustworthiness with 15 neighbours.
    accuracy : float
        Mean 5-fold accuracy of a 10-NN classifier on the embedding.
    """

    dataset: str
    method: str
    fit_s: float
    edges_per_s: float | None
    trust: float
    accuracy: float


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Load a data set and its labels.

    Parameters
    ----------
    name : {'wine', 'digits', 'swiss_roll', 'mixture20k', 'mixture100k'}

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Standardised for wine and the swiss roll, raw for digits and the mixtures
        (float32 for the mixtures, float64 otherwise).
    y : ndarray of shape (n_samples,), int
        Class labels; for the swiss roll, ``t`` binned into 10 quantile bins; for the
        mixtures, the cluster each row was drawn from.
    """
    from sklearn.datasets import load_digits, load_wine, make_swiss_roll
    from sklearn.preprocessing import StandardScaler

    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X.astype(np.float64), y
    if name == "swiss_roll":
        X, t = make_swiss_roll(1000, random_state=0)
        edges = np.quantile(t, np.linspace(0, 1, 11)[1:-1])
        return StandardScaler().fit_transform(X), np.digitize(t, edges)
    if name in ("mixture20k", "mixture100k"):
        from scale import make_data

        return make_data(20_000 if name == "mixture20k" else 100_000, 50, return_labels=True)
    raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")


def quality(X: np.ndarray, emb: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Trustworthiness (15 neighbours) and 5-fold 10-NN accuracy of an embedding.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    emb : ndarray of shape (n_samples, n_components)
    y : ndarray of shape (n_samples,)

    Returns
    -------
    trust, accuracy : float
    """
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    if len(X) > TRUST_FULL_MAX:
        rows = np.random.default_rng(0).choice(len(X), TRUST_ROWS, replace=False)
        trust = float(trustworthiness(X[rows], emb[rows], n_neighbors=15))
    else:
        trust = float(trustworthiness(X, emb, n_neighbors=15))
    acc = float(cross_val_score(KNeighborsClassifier(10), emb, y, cv=5).mean())
    return trust, acc


def fit_ours(X: np.ndarray) -> tuple[np.ndarray, float, float | None]:
    """Fit ``GlassBoxUMAP(random_state=0, quiet=True)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    emb : ndarray of shape (n_samples, 2)
    fit_s : float
        Wall-clock seconds of ``fit_transform``.
    edges_per_s : float or None
        Edges sampled per second of training.
    """
    from glass_box_umap import GlassBoxUMAP
    from glass_box_umap.training import steps_per_epoch

    r = GlassBoxUMAP(random_state=0, quiet=True)
    start = time.perf_counter()
    emb = r.fit_transform(X)
    fit_s = time.perf_counter() - start
    steps = steps_per_epoch(r.batch_size, r.num_batches)
    train_s = float(r.history_["time"][-1])
    # A step draws at most the graph's edges (wine's graph is smaller than a batch).
    batch = min(r.batch_size, len(r.graph_.head))
    rate = r.epochs * steps * batch / train_s if train_s > 0 else None
    return np.asarray(emb), fit_s, rate


class _LayoutTimer:
    """Wraps umap-learn's ``optimize_layout_euclidean`` to time it and count its samples."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.seconds = 0.0
        self.samples = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        n_epochs = args[4] if len(args) > 4 else kwargs["n_epochs"]
        eps = np.asarray(args[6] if len(args) > 6 else kwargs["epochs_per_sample"])
        n_max = max(n_epochs) if isinstance(n_epochs, list) else n_epochs
        # epochs_per_sample = max(w) / w, so n_epochs / eps = n_epochs * w / max(w).
        self.samples += float(n_max * np.sum(1.0 / eps[eps > 0]))
        start = time.perf_counter()
        out = self.func(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return out


def fit_umap(X: np.ndarray) -> tuple[np.ndarray, float, float | None]:
    """Fit ``umap.UMAP(random_state=0)``, timing its optimisation separately.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    emb : ndarray of shape (n_samples, 2)
    fit_s : float
        Wall-clock seconds of ``fit_transform``.
    edges_per_s : float or None
        Positive edges sampled per second of optimisation, None if the optimiser
        could not be wrapped.
    """
    import umap
    import umap.umap_ as umap_module

    original = getattr(umap_module, "optimize_layout_euclidean", None)
    timer = _LayoutTimer(original) if original is not None else None
    if timer is not None:
        umap_module.optimize_layout_euclidean = timer
    try:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            emb = umap.UMAP(random_state=0).fit_transform(X)
        fit_s = time.perf_counter() - start
    finally:
        if timer is not None:
            umap_module.optimize_layout_euclidean = original
    rate = None
    if timer is not None and timer.seconds > 0 and timer.samples > 0:
        rate = timer.samples / timer.seconds
    return np.asarray(emb), fit_s, rate


METHODS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, float, float | None]]] = {
    "glass_box_umap": fit_ours,
    "umap-learn": fit_umap,
}


def warm_up() -> tuple[float, float]:
    """Fit both methods once on a tiny random set, so JIT and imports are not timed.

    Returns
    -------
    ours_s, umap_s : float
        Seconds each warm-up took.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    start = time.perf_counter()
    fit_umap(X)
    umap_s = time.perf_counter() - start
    start = time.perf_counter()
    from glass_box_umap import GlassBoxUMAP

    GlassBoxUMAP(random_state=0, quiet=True, epochs=2).fit_transform(X)
    ours_s = time.perf_counter() - start
    return ours_s, umap_s


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the tables.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments; ``sys.argv[1:]`` if None.

    Returns
    -------
    int
        Exit status (always 0: speed is reported, never asserted).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DEFAULT_DATASETS))
    parser.add_argument("--repeats", type=int, default=1, help="fits per method and data set")
    parser.add_argument("--quick", action="store_true", help="wine only, one repeat")
    args = parser.parse_args(argv)
    repeats = max(1, args.repeats)
    if args.quick:
        args.datasets, repeats = ["wine"], 1

    for line in header(("umap-learn",)):
        print(line)
    ours_warm, umap_warm = warm_up()
    print(
        f"warm-up (not counted): umap-learn numba JIT {umap_warm:.1f} s, "
        f"glass_box_umap imports/Lightning {ours_warm:.1f} s, on a 200x8 random set"
    )
    print(
        f"fit s and edges/s: median of {repeats} fit(s); umap-learn edges/s = "
        "n_epochs*sum(w/max w) / time in optimize_layout_euclidean"
    )
    print("umap-learn with random_state runs single-threaded (n_jobs=1)")
    print()
    sys.stdout.flush()

    results: list[Result] = []
    for name in args.datasets:
        X, y = load_dataset(name)
        for method, fit in METHODS.items():
            times: list[float] = []
            rates: list[float] = []
            emb = np.empty((0, 2))
            for _ in range(repeats):
                emb, fit_s, rate = fit(X)
                times.append(fit_s)
                if rate is not None:
                    rates.append(rate)
            trust, acc = quality(X, emb, y)
            results.append(
                Result(
                    name,
                    method,
                    statistics.median(times),
                    statistics.median(rates) if rates else None,
                    trust,
                    acc,
                )
            )

    rows = [["dataset", "method", "fit s", "train edges/s", "trust@15", "10-NN acc"]]
    for r in results:
        rows.append(
            [
                r.dataset,
                r.method,
                f"{r.fit_s:.2f}",
                _rate(r.edges_per_s),
                f"{r.trust:.4f}",
                f"{r.accuracy:.4f}",
            ]
        )
    print(format_table(rows))
    print()

    ratio_rows = [
        ["dataset", "time ours/umap", "trust ours-umap", "acc ours-umap"],
    ]
    for name in args.datasets:
        by_method = {r.method: r for r in results if r.dataset == name}
        ours, ref = by_method["glass_box_umap"], by_method["umap-learn"]
        ratio_rows.append(
            [
                name,
                f"{ours.fit_s / ref.fit_s:.2f}x",
                f"{ours.trust - ref.trust:+.4f}",
                f"{ours.accuracy - ref.accuracy:+.4f}",
            ]
        )
    print(format_table(ratio_rows, n_left=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
