"""Do the features an explanation ranks first really move the point most? Deletion and insertion.

Usage::

    python benchmarks/faithfulness.py [--datasets wine digits] [--n-samples 100]
                                      [--kernel-nsamples auto] [--figure docs/faithfulness.png]
                                      [--threads 1] [--set neighbour_noise=0] [--quick]

For each data set (sklearn's wine and digits, ``StandardScaler``), ``GlassBoxUMAP``
with its defaults (``--set name=value`` changes one) and ``random_state=0`` is fitted on
all samples, and ``n_samples`` samples drawn with ``random_state=0`` are explained. Every
method attributes the displacement ``f(x) - f(b)`` of a sample's embedding from a
baseline's to the features (column ``explains`` says what each one's values add up to); a
feature's score is the length (L2 over the embedding components) of its attribution.

Two baselines:

* ``mean``: the training mean, where today's contributions are measured from;
* ``other``: for each sample, a random sample of another class (why is this wine here
  rather than there).

Curves, per sample, for k = 0 .. d features taken in each method's order:

* deletion: the top-k features of x are set to the baseline's values; the curve is the
  fraction of ``||f(x) - f(b)||`` closed, ``1 - ||f(x_k) - f(b)|| / ||f(x) - f(b)||``;
* insertion: the top-k features of x are put into the baseline; the curve is the
  fraction of the way to ``f(x)``, ``1 - ||f(b_k) - f(x)|| / ||f(x) - f(b)||``.

Both end at 1 for k = d and start at 0. AUC is the trapezoid area over k / d in [0, 1],
averaged over samples: **higher is better for both** (a faithful ranking moves the point
most with its first features). Methods:

* ``exact Shapley``: :func:`glass_box_umap.shapley.baseline_shapley`, every one of the
  2^d coalitions of features between b and x evaluated (d <= 16: wine, not digits);
* ``contributions``: :meth:`GlassBoxUMAP.compute_contributions`, ``C(x)`` (reference: the
  mean); against another sample, the exact split ``C(x) - C(b)``;
* ``exact path``: :func:`glass_box_umap.paths.path_contributions`, baseline b;
* ``KernelSHAP, background b``: ``shap.KernelExplainer`` (``l1_reg=False``, so every
  feature is scored) with the baseline as its only background row: baseline Shapley, the
  same quantity as ``exact Shapley``, estimated from ``nsamples`` coalitions;
* ``KernelSHAP, 100 rows`` (``mean`` only): background 100 training samples
  (``shap.sample``), which explains ``f(x) - E f(background)``, not ``f(x) - f(mean)``;
* ``IG (50 steps)``: ``captum.attr.IntegratedGradients``, baseline b, 50 steps;
* ``grad x (x - b)``: the Jacobian at x times ``x - b``;
* ``random``: a random order per sample.

Also printed: ``rho``, Spearman's rank correlation of each method's feature scores with
the exact Shapley values' scores, per sample, averaged over samples (``-`` where d > 16);
``sum error``, the median over samples of ``||sum_j A_j - (f(x) - f(b))|| /
||f(x) - f(b)||`` (0 for an exact split); seconds per sample of each method; the pieces
the exact path crossed (median, max); and, where exact Shapley values exist, where they
part from the path's attribution ``A`` (the contributions, against the mean): each
Shapley value averages the feature's marginal contributions ``v(S + j) - v(S)`` over the
coalitions S. Split per (sample, axis, feature) into the weighted mass ``P`` of those
with the sign of ``A`` and ``N`` of those against it (``phi = sign(A) (P - N)``), the
rankings of ``A - sign(A) N`` (``A`` corrected only for the sign changes) and
``sign(A) P`` (only for the magnitudes, signs kept) show which of the two makes the gap.
``--quick`` runs wine on 20 samples with 20 epochs and ``nsamples=200``, to check that
the script runs. Nothing here asserts or fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _common import format_table, header, parse_settings

DATASETS = ("wine", "digits")
METHODS = (
    "exact Shapley",
    "contributions",
    "exact path",
    "KernelSHAP, background b",
    "KernelSHAP, 100 rows",
    "IG (50 steps)",
    "grad x (x - b)",
    "random",
)

#: What each method's values add up to (the column ``explains``).
EXPLAINS = {
    "exact Shapley": "f(x) - f(b)",
    "contributions": "f(x) - f(b)",
    "exact path": "f(x) - f(b)",
    "KernelSHAP, background b": "f(x) - f(b)",
    "KernelSHAP, 100 rows": "f(x) - E f(100 rows)",
    "IG (50 steps)": "f(x) - f(b), approx.",
    "grad x (x - b)": "J(x) (x - b)",
    "random": "-",
}

#: Exact Shapley and the exact path are drawn thick and pale: the methods that coincide show.
STYLES = {
    "exact Shapley": dict(color="tab:orange", lw=5, alpha=0.5),
    "contributions": dict(color="tab:blue", ls="--"),
    "exact path": dict(color="black", lw=3.5, alpha=0.45),
    "KernelSHAP, background b": dict(color="tab:green"),
    "KernelSHAP, 100 rows": dict(color="tab:olive", ls=(0, (1, 1))),
    "IG (50 steps)": dict(color="tab:red", ls=":", lw=2),
    "grad x (x - b)": dict(color="tab:purple", ls="-."),
    "random": dict(color="tab:gray"),
}


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A bundled scikit-learn data set, standardised: X (n, d) float64 and labels y."""
    from sklearn.datasets import load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    X, y = {"wine": load_wine, "digits": load_digits}[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def embed(model: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    """``model(X)`` as float64, (n, n_components), in chunks."""
    out = []
    with torch.no_grad():
        for start in range(0, len(X), 65_536):
            chunk = torch.as_tensor(X[start : start + 65_536], dtype=torch.float32)
            out.append(model(chunk).double().numpy())
    return np.concatenate(out)


def curves(
    model: torch.nn.Module, X: np.ndarray, B: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves, each (n, d + 1), for features ranked by ``scores``.

    Parameters
    ----------
    model : nn.Module
        Raw samples (n, d) -> embedding (n, n_components).
    X, B : ndarray of shape (n, d)
        Samples and their baselines.
    scores : ndarray of shape (n, d)
        Larger first; ties keep the feature order.
    """
    n, d = X.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(d)[None].repeat(n, 0), axis=1)
    taken = np.arange(d + 1)[None, :, None] > rank[:, None, :]  # (n, d + 1, d)
    deleted = np.where(taken, B[:, None], X[:, None]).reshape(-1, d)
    inserted = np.where(taken, X[:, None], B[:, None]).reshape(-1, d)
    fx, fb = embed(model, X), embed(model, B)
    gap = np.linalg.norm(fx - fb, axis=1)[:, None]
    f_del = embed(model, deleted).reshape(n, d + 1, -1)
    f_ins = embed(model, inserted).reshape(n, d + 1, -1)
    closed = 1 - np.linalg.norm(f_del - fb[:, None], axis=2) / gap
    reached = 1 - np.linalg.norm(f_ins - fx[:, None], axis=2) / gap
    return closed, reached


def auc(curve: np.ndarray) -> float:
    """Mean over samples of the trapezoid area under ``curve`` over k / d in [0, 1]."""
    d = curve.shape[1] - 1
    return float(((curve[:, 1:] + curve[:, :-1]) / 2).sum(1).mean() / d)


def timed(fn: Callable[[], np.ndarray], n: int) -> tuple[np.ndarray, float]:
    """``fn()`` and its seconds per sample."""
    start = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - start) / n


def rank_correlation(scores: np.ndarray, reference: np.ndarray) -> float:
    """Spearman's correlation of two (n, d) score arrays, per row, averaged over the rows.

    Ties share their mean rank; rows where either is constant (no order) are left out.
    """
    from scipy.stats import rankdata

    a, b = rankdata(scores, axis=1), rankdata(reference, axis=1)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    norm = np.sqrt((a**2).sum(1) * (b**2).sum(1))
    rho = (a * b).sum(1)[norm > 0] / norm[norm > 0]
    return float(rho.mean()) if rho.size else float("nan")


def marginal_split(
    model: torch.nn.Module, X: np.ndarray, B: np.ndarray, A: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each Shapley value's marginal contributions, split by their sign against ``A``.

    Parameters
    ----------
    model : nn.Module
        Raw samples (n, d) -> embedding (n, n_components).
    X, B : ndarray of shape (n, d)
        Samples and their baselines.
    A : ndarray of shape (n, n_components, d)
        The attribution the signs are taken from (0 counts as positive).

    Returns
    -------
    P, N : ndarray of shape (n, n_components, d), float64, >= 0
        Shapley-weighted sums of ``|v(S + j) - v(S)|`` over the coalitions S without j
        whose marginal contribution has the sign of ``A[i, k, j]`` (``P``) or the other
        (``N``), so that the exact Shapley value is ``sign(A) * (P - N)``.
    """
    from glass_box_umap.shapley import coalition_values, coalition_weights

    n, d = X.shape
    values = coalition_values(model, X, B).astype(np.float64)  # (n, 2^d, n_components)
    members, weights = coalition_weights(d)
    sign = np.where(A >= 0, 1.0, -1.0)
    P, N = np.zeros(A.shape), np.zeros(A.shape)
    for j in range(d):
        without = np.flatnonzero(~members[:, j])
        marginal = values[:, without | (1 << j)] - values[:, without]  # (n, 2^(d-1), k)
        w = -weights[without, j]  # w(|S|) > 0 for S without j; they sum to 1
        agreeing = marginal * sign[:, None, :, j] > 0
        P[:, :, j] = np.einsum("s,nsk->nk", w, np.where(agreeing, np.abs(marginal), 0))
        N[:, :, j] = np.einsum("s,nsk->nk", w, np.where(agreeing, 0, np.abs(marginal)))
    return P, N


def attributions(
    reducer,
    X: np.ndarray,
    B: np.ndarray,
    train: np.ndarray,
    baseline: str,
    nsamples,
    seed: int,
    exact_shapley: bool,
) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray, dict[str, str]]:
    """Every method's attributions (n, n_components, d), seconds per sample, path pieces.

    Returns
    -------
    attributions : dict of method -> ndarray (n, n_components, d)
        ``"exact Shapley"`` only when ``exact_shapley``, ``"KernelSHAP, 100 rows"`` only
        against the mean.
    seconds : dict of method -> float
    pieces : ndarray of shape (n,)
    kernel_notes : dict of method -> str
        Each KernelSHAP's background and budget, as run.
    """
    import shap
    from captum.attr import IntegratedGradients

    from glass_box_umap.attribution import batch_jacobian
    from glass_box_umap.paths import fitted_map, path_contributions
    from glass_box_umap.shapley import baseline_shapley

    n, d = X.shape
    model = fitted_map(reducer)
    out: dict[str, np.ndarray] = {}
    secs: dict[str, float] = {}

    # Warm-up, untimed: forward-mode AD loads its decompositions on first use.
    path_contributions(model, X[:2], B[:2])
    IntegratedGradients(model).attribute(
        torch.as_tensor(X[:2], dtype=torch.float32), target=0, n_steps=2
    )

    if exact_shapley:
        out["exact Shapley"], secs["exact Shapley"] = timed(
            lambda: baseline_shapley(model, X, B), n
        )

    def contributions() -> np.ndarray:
        C = reducer.compute_contributions(X)
        return C if baseline == "mean" else C - reducer.compute_contributions(B)

    out["contributions"], secs["contributions"] = timed(contributions, n)
    (out["exact path"], pieces), secs["exact path"] = timed(
        lambda: path_contributions(model, X, B), n
    )

    def predict(rows: np.ndarray) -> np.ndarray:
        return embed(model, rows)

    budget = "auto" if nsamples == "auto" else int(nsamples)

    def kernel(background: np.ndarray | None) -> np.ndarray:
        """KernelSHAP of every sample; ``background`` None: each sample's own baseline."""
        np.random.seed(seed)  # shap draws its coalitions from numpy's global generator
        values = []
        explainer = None if background is None else shap.KernelExplainer(predict, background)
        for i in range(n):
            if background is None:
                explainer = shap.KernelExplainer(predict, B[i : i + 1])
            sv = explainer.shap_values(X[i : i + 1], nsamples=budget, l1_reg=False, silent=True)
            values.append(np.asarray(sv).reshape(d, -1).T)  # (n_components, d)
        return np.stack(values)

    own = "the mean" if baseline == "mean" else "the baseline sample"
    notes = {"KernelSHAP, background b": f"background: {own} (baseline Shapley), nsamples={budget}"}
    key = "KernelSHAP, background b"
    out[key], secs[key] = timed(lambda: kernel(B[:1] if baseline == "mean" else None), n)
    if baseline == "mean":
        key = "KernelSHAP, 100 rows"
        background = shap.sample(train, 100, random_state=seed)
        out[key], secs[key] = timed(lambda: kernel(background), n)
        notes[key] = f"background: 100 training samples (shap.sample), nsamples={budget}"

    def integrated_gradients() -> np.ndarray:
        ig = IntegratedGradients(model)
        x = torch.as_tensor(X, dtype=torch.float32)
        b = torch.as_tensor(B, dtype=torch.float32)
        k = reducer.embedding_.shape[1]
        rows = [ig.attribute(x, baselines=b, target=j, n_steps=50) for j in range(k)]
        return torch.stack(rows, dim=1).detach().numpy()

    out["IG (50 steps)"], secs["IG (50 steps)"] = timed(integrated_gradients, n)

    def gradient_times_difference() -> np.ndarray:
        jac, _ = batch_jacobian(model, torch.as_tensor(X, dtype=torch.float32))
        return jac.numpy() * (X - B)[:, None]

    out["grad x (x - b)"], secs["grad x (x - b)"] = timed(gradient_times_difference, n)
    rng = np.random.default_rng(seed)
    out["random"], secs["random"] = rng.random((n, 1, d)), 0.0
    return out, secs, pieces, notes


def sign_lines(
    model: torch.nn.Module, X: np.ndarray, B: np.ndarray, out: dict[str, np.ndarray], where: str
) -> list[str]:
    """Where exact Shapley parts from the path: the sign-change and magnitude corrections."""
    A, phi = out["exact path"], out["exact Shapley"]
    P, N = marginal_split(model, X, B, A)
    sign = np.where(A >= 0, 1.0, -1.0)

    def aucs(attribution: np.ndarray) -> tuple[float, float]:
        closed, reached = curves(model, X, B, np.linalg.norm(attribution, axis=1))
        return auc(closed), auc(reached)

    path, shapley = aucs(A), aucs(phi)
    rho = rank_correlation(np.linalg.norm(A, axis=1), np.linalg.norm(phi, axis=1))
    signs_only, sizes_only = aucs(A - sign * N), aucs(sign * P)
    reversed_sign = (phi * sign < 0).mean()

    def share(value: tuple[float, float]) -> str:
        parts = [
            f"{v:.3f} ({(v - p) / (s - p):+.0%} of the gap)" if abs(s - p) > 1e-12 else f"{v:.3f}"
            for v, p, s in zip(value, path, shapley, strict=True)
        ]
        return " / ".join(parts)

    return [
        f"{where}: exact Shapley against the exact path (deletion / insertion AUC): "
        f"{shapley[0]:.3f} / {shapley[1]:.3f} against {path[0]:.3f} / {path[1]:.3f}; "
        f"rank correlation {rho:.3f}",
        f"{where}: marginal contributions against the sign of the path's: "
        f"{N.sum() / (P + N).sum():.1%} of their weighted mass, in "
        f"{(N > 0).mean():.0%} of the (sample, axis, feature) triples; the Shapley value "
        f"has the other sign in {reversed_sign:.1%} of them",
        f"{where}: path corrected for the sign changes only, A - sign(A) N: "
        f"{share(signs_only)}; for the magnitudes only, sign(A) P: {share(sizes_only)}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables; returns 0 (nothing is asserted)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--n-samples", type=int, default=100)
    parser.add_argument("--kernel-nsamples", default="auto", help="KernelSHAP budget per sample")
    parser.add_argument("--figure", type=Path, default=None, help="write the curves (PNG)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every method")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--quick", action="store_true", help="wine, 20 samples, 20 epochs")
    args = parser.parse_args(argv)
    datasets, params, nsamples = args.datasets, parse_settings(args.set), args.kernel_nsamples
    if args.quick:
        datasets, nsamples, args.n_samples = ["wine"], 200, 20
        params = {"epochs": 20, **params}
    torch.set_num_threads(args.threads)

    from glass_box_umap import GlassBoxUMAP
    from glass_box_umap.paths import fitted_map
    from glass_box_umap.shapley import MAX_FEATURES

    started = time.perf_counter()
    for line in header(("shap", "captum")):
        print(line)
    print(f"GlassBoxUMAP(random_state=0, quiet=True, **{params}) on StandardScaler'd data;")
    print(f"{args.n_samples} samples per data set (random_state=0); AUC: higher is better")
    print("(deletion: fraction of ||f(x) - f(b)|| closed; insertion: of the way to f(x));")
    print("rho: Spearman correlation with the exact Shapley ranking, per sample, averaged")
    print()
    sys.stdout.flush()

    rows = [
        [
            "data",
            "baseline",
            "method",
            "explains",
            "deletion AUC",
            "insertion AUC",
            "rho",
            "sum error",
            "s / sample",
        ]
    ]
    notes, drawn = [], {}
    for name in datasets:
        X_all, y = load(name)
        reducer = GlassBoxUMAP(random_state=0, quiet=True, **params).fit(X_all)
        rng = np.random.default_rng(0)
        idx = rng.choice(len(X_all), size=min(args.n_samples, len(X_all)), replace=False)
        X = X_all[idx]
        other = np.array([rng.choice(np.flatnonzero(y != y[i])) for i in idx])
        baselines = {
            "mean": np.broadcast_to(reducer.mean_, X.shape).copy(),
            "other": X_all[other],
        }
        model = fitted_map(reducer)
        exact = X.shape[1] <= MAX_FEATURES
        if not exact:
            notes.append(
                f"{name}: d = {X.shape[1]} > {MAX_FEATURES}, exact Shapley values would take "
                f"2^{X.shape[1]} forward passes per sample: not computed (no rho)"
            )
        for base_name, B in baselines.items():
            out, secs, pieces, kernel_notes = attributions(
                reducer, X, B, X_all, base_name, nsamples, seed=0, exact_shapley=exact
            )
            gap = embed(model, X) - embed(model, B)
            for method in ("contributions", "exact path", "exact Shapley"):
                if method not in out:
                    continue
                err = np.abs(out[method].sum(-1) - gap).max() / np.abs(gap).max()
                notes.append(
                    f"{name}, {base_name}: {method} sums to f(x) - f(b) within {err:.1e} "
                    "relative (float32)"
                )
            notes.append(
                f"{name}, {base_name}: exact path crossed {np.median(pieces):.0f} pieces "
                f"(median), {pieces.max()} (max)"
            )
            for method, note in kernel_notes.items():
                notes.append(
                    f"{name}, {base_name}: {method}: {note}; time / exact path: "
                    f"{secs[method] / secs['exact path']:.3g}x"
                )
            same = np.abs(out["contributions"] - out["exact path"]).max()
            notes.append(
                f"{name}, {base_name}: max |contributions - exact path| = {same:.2g} "
                f"(max |exact path| = {np.abs(out['exact path']).max():.2g})"
            )
            if exact:
                notes.extend(sign_lines(model, X, B, out, f"{name}, {base_name}"))
            reference = np.linalg.norm(out["exact Shapley"], axis=1) if exact else None
            for method in METHODS:
                if method not in out:
                    continue
                scores = np.linalg.norm(out[method], axis=1)
                closed, reached = curves(model, X, B, scores)
                drawn[(name, base_name, method)] = (closed.mean(0), reached.mean(0))
                missed = np.linalg.norm(out[method].sum(-1) - gap, axis=1)
                sum_error = np.median(missed / np.linalg.norm(gap, axis=1))
                label = method
                if method == "contributions" and base_name == "other":
                    label = "contributions, C(x) - C(b)"
                rows.append(
                    [
                        name,
                        base_name,
                        label,
                        EXPLAINS[method],
                        f"{auc(closed):.3f}",
                        f"{auc(reached):.3f}",
                        "-" if reference is None else f"{rank_correlation(scores, reference):.3f}",
                        f"{sum_error:.1g}" if method != "random" else "-",
                        f"{secs[method]:.2g}" if method != "random" else "-",
                    ]
                )
            print(format_table(rows, n_left=4))
            print()
            sys.stdout.flush()
    print(format_table(rows, n_left=4))
    print()
    for line in notes:
        print(line)
    if args.figure is not None:
        draw(drawn, datasets, args.figure)
        print(f"figure: {args.figure}")
    print(f"total: {time.perf_counter() - started:.0f} s")
    return 0


def draw(drawn: dict, datasets: list[str], path: Path) -> None:
    """Mean deletion and insertion curves per data set and baseline, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(datasets), 4, figsize=(16, 3.6 * len(datasets)), squeeze=False, sharey=True
    )
    for row, name in enumerate(datasets):
        for col, (base, kind) in enumerate([("mean", 0), ("mean", 1), ("other", 0), ("other", 1)]):
            ax = axes[row, col]
            for method in METHODS:
                if (name, base, method) not in drawn:
                    continue
                curve = drawn[(name, base, method)][kind]
                ax.plot(np.linspace(0, 1, len(curve)), curve, label=method, **STYLES[method])
            what = "deletion: share of ||f(x)-f(b)|| closed" if kind == 0 else "insertion"
            ax.set_title(f"{name}, baseline {base}: {what}", fontsize=9)
            ax.set_xlabel("fraction of features taken, best first")
            ax.grid(alpha=0.3)
        axes[row, 0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
