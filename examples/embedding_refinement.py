"""Embedding refinement on the Swiss roll: which training knobs unroll the sheet.

This script reproduces the "Embedding Refinement" documentation page. It fits
:class:`glass_box_umap.GlassBoxUMAP` six times on the same standardised Swiss roll
(``make_swiss_roll(n_samples=1000, random_state=0)``, ``StandardScaler``, float32), always
with ``random_state=0, quiet=True``:

1. defaults,
2. ``lr=1e-1``,
3. ``batch_size=512``,
4. ``encoder_kwargs={"hidden_size": 64, "n_hidden_layers": 1}``,
5. ``lr=1e-1, batch_size=512``,
6. all three changes together.

The page's claim is that fits 1-5 stay folded and only fit 6 unrolls the sheet. With this
package (run described under *Threshold*) the claim holds only in part: the default (1)
and the small encoder alone (4) leave the sheet rolled up, and all three changes together
(6) lay it flat, but ``lr=1e-1`` alone (2), ``batch_size=512`` alone (3) and their pair (5)
unroll it too. Our encoder starts from a variance-preserving initialisation and samples
edges exactly as UMAP weights them, which seems to leave the default less stuck than
the page's.

For every fit the script writes one PNG (the fit next to the default, as the page's
``plot_against_default`` does; the default alone, as ``plot_embedding`` does), one overview
PNG with all six panels, and an ``embeddings.npz`` cache, and it prints a table with the fit
time, the unrolling scores and a verdict.

Scores
------
The Swiss roll is a rolled-up rectangle, so its true 2-D coordinates are known exactly:
the arc length ``s(t)`` along the spiral ``(t cos t, t sin t)`` and the height
``y = X_raw[:, 1]``. Distances in ``(s, y)`` are the geodesic distances on the sheet.

``rho_geo``
    Spearman rank correlation between all 499,500 pairwise geodesic distances ``(s, y)``
    and the corresponding pairwise embedding distances. An embedding that lays the sheet
    flat keeps far points far (rho near 1); a fold or an overlap puts distant parts of the
    sheet on top of each other and pulls rho down. This is the score that decides the
    verdict.
``knn15``
    Mean fraction of each point's 15 nearest neighbours in the embedding that are also
    among its 15 nearest neighbours in ``(s, y)``. It measures local faithfulness only, so
    it is reported as a second opinion but not used for the verdict.

Raw ``(t, y)`` coordinates are deliberately not used as the reference: ``t`` spans about
9.4 while ``y`` spans 21, so Euclidean distance in ``(t, y)`` describes a sheet taller
than it is long, whereas the real sheet is about 89 long by 21 tall. Scored against
``(t, y)``, every fit (flat or not) came out between 0.30 and 0.42, i.e. that reference
separates nothing.

Threshold
---------
An embedding is called ``unrolled`` when ``rho_geo >= UNROLLED_RHO`` (0.77). The value was
picked after one run of this script (random_state=0, CPU, torch 2.13.0+cpu). In that run
the two fits whose plots show the roll still curled up, with its ends overlapping the
middle, scored 0.344 (small encoder) and 0.630 (default), and the four fits whose plots
show one strip with colour changing monotonically along it scored 0.909-0.969; nothing
fell in between. 0.77 is the middle of that empty gap. ``knn15`` does not split them
cleanly (0.57 and 0.73 against 0.59-0.81: fit 5 is flat but locally ragged). The scores
are printed as computed; if the package changes and a fit moves across the line, the
verdict moves with it.

Since an epoch became a fixed 40,000 edges (800 steps at the default batch size, 15,800 at
``batch_size=512``, whatever the data size), the same run scores: default 0.700, lr 0.958,
batch 0.940, small encoder 0.381, lr + batch 0.962, all three 0.981. The verdicts are
unchanged, the default is less folded than before (0.630) and the page's combined
settings still unroll the sheet best. With the input scale, the batch-RMS training
normalisation and ``neighbour_noise=0.5`` as defaults (2026-12, a run while other jobs
shared the CPU, so its seconds are not comparable): default 0.595, lr 0.947, batch 0.719,
small encoder 0.379, lr + batch 0.903, all three 0.971. The defaults fold a little more
than before (0.700), ``batch_size=512`` alone now stays folded, and all three together
still unroll best of the six. With ``input_noise=0.25`` every fit stays rolled
up (0.37-0.47): that parameter is off by default for this reason. With an epoch of
80,000 edges (1,600 steps at the default batch size, 31,600 at ``batch_size=512``; the
default since 2026-12, chosen on held-out digits, see ``benchmarks/generalization.py
--budget``), a quiet run: default 0.655, lr 0.727, batch 0.678, small encoder 0.439,
lr + batch 0.976, all three 0.978. Every single knob now leaves the sheet folded, as the
page says; the pair lr + batch unrolls it, and all three together still unroll it best.
With the training step's hand-written backward passes (2026-12: the same gradients up to
float rounding, which is enough to move these fits), a quiet run on two threads: default
0.585, lr 0.898, batch 0.711, small encoder 0.439, lr + batch 0.980, all three 0.965.
Both lr alone and lr + batch now unroll the sheet, and lr + batch edges out all three
(by 0.015); the docs build (one torch thread) of the same release scored 0.582, 0.699,
0.693, 0.439, 0.932 and 0.968, all three best. The higher learning rate sits on the
boundary between folding and unrolling, and float rounding decides which side.
With the noise-free last tenth of the epochs (``noise_free_fraction=0.1``, 2026-12; the
swiss roll's three inputs get no across noise), a run on two threads: default 0.585, lr
0.777, batch 0.804, small encoder 0.440, lr + batch 0.929, all three 0.986: all three
unroll it best again (the docs build, one thread: 0.572, 0.815, 0.816, 0.440, 0.894,
0.959). With an epoch of 120,000 edges (2,400 steps at the default batch size, 47,000 at
``batch_size=512``; the default since 2026-12, where held-out digits stopped improving),
a run on two threads: default 0.612, lr 0.959, batch 0.792, small encoder 0.541, lr +
batch 0.915, all three 0.977. All three still unroll it best, the higher lr alone comes
close, and the defaults fold a little less than at 1,600 steps (0.585). On another 2-core
machine (2026-12-04, across noise 1.0, which three inputs never draw): default 0.610, lr
0.775, batch 0.792, small encoder 0.541, lr + batch 0.915, all three 0.977.

Usage
-----
::

    python examples/embedding_refinement.py [--out DIR] [--reuse] [--quick]

``--out`` defaults to ``examples/output/embedding_refinement``. The six fits took 273 s
in all on this project's 2-core CPU machine at 1,600 default steps (338 s before the
training step's hand-written backward passes), and take about half as long again at
2,400; the three ``batch_size=512`` fits take about 90% of it.
``--reuse`` loads the embeddings and fit times from ``DIR/embeddings.npz`` written by an
earlier run instead of refitting, and only recomputes the scores and figures. ``--quick``
(300 points, 2 epochs per fit) checks that the script runs; its scores mean nothing.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.datasets import make_swiss_roll
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from glass_box_umap import GlassBoxUMAP

DEFAULT_OUT = Path("examples/output/embedding_refinement")
UNROLLED_RHO = 0.77
"""Verdict threshold on ``rho_geo``; see the module docstring for how it was chosen."""
N_NEIGHBORS_SCORE = 15


@dataclass(frozen=True)
class FitSpec:
    """One fit from the documentation page.

    Attributes
    ----------
    key : str
        Short identifier, used in file names.
    title : str
        Plot title, as on the page.
    params : dict
        Keyword arguments for :class:`GlassBoxUMAP` besides ``random_state`` and ``quiet``.
    """

    key: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)


SMALL_ENCODER = {"hidden_size": 64, "n_hidden_layers": 1}
FITS: tuple[FitSpec, ...] = (
    FitSpec("default", "Default"),
    FitSpec("lr", "Higher lr only (1e-1)", {"lr": 1e-1}),
    FitSpec("batch", "Smaller batch only (512)", {"batch_size": 512}),
    FitSpec("encoder", "Smaller encoder only (64 x 1)", {"encoder_kwargs": SMALL_ENCODER}),
    FitSpec("lr_batch", "Higher lr + smaller batch", {"lr": 1e-1, "batch_size": 512}),
    FitSpec(
        "all_three",
        "lr=1e-1, batch=512, encoder=64x1",
        {"lr": 1e-1, "batch_size": 512, "encoder_kwargs": SMALL_ENCODER},
    ),
)


def load_swiss_roll(n_samples: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load the page's Swiss roll (1,000 points; fewer only for ``--quick``).

    Returns
    -------
    X : ndarray of shape (n_samples, 3), float32
        Standardised input data, as fitted on the page.
    t : ndarray of shape (n_samples,)
        Roll parameter (angle along the spiral), used for colouring.
    sheet : ndarray of shape (n_samples, 2)
        True 2-D coordinates on the sheet: arc length along the spiral and height.
    """
    X_raw, t = make_swiss_roll(n_samples=n_samples, random_state=0)
    X = StandardScaler().fit_transform(X_raw).astype(np.float32)
    sheet = np.column_stack([spiral_arc_length(t), X_raw[:, 1]])
    return X, t, sheet


def spiral_arc_length(t: np.ndarray) -> np.ndarray:
    """Arc length of the spiral ``(t cos t, t sin t)`` from angle 0 to ``t``.

    Parameters
    ----------
    t : ndarray
        Angles along the spiral.

    Returns
    -------
    ndarray
        ``(t sqrt(1 + t^2) + asinh(t)) / 2``, the exact arc length.
    """
    return 0.5 * (t * np.sqrt(1.0 + t**2) + np.arcsinh(t))


def fit_embedding(
    X: np.ndarray, spec: FitSpec, extra: dict[str, Any] | None = None
) -> tuple[np.ndarray, float]:
    """Fit one model exactly as the page does and time it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Input data.
    spec : FitSpec
        Which fit to run.
    extra : dict, optional
        More :class:`GlassBoxUMAP` arguments (``--quick``: fewer epochs).

    Returns
    -------
    embedding : ndarray of shape (n_samples, 2)
        The fitted embedding of ``X``.
    seconds : float
        Wall-clock time of ``fit_transform``.
    """
    start = time.perf_counter()
    params = {**spec.params, **(extra or {})}
    embedding = GlassBoxUMAP(**params, random_state=0, quiet=True).fit_transform(X)
    return np.asarray(embedding), time.perf_counter() - start


def distance_spearman(reference: np.ndarray, embedding: np.ndarray) -> float:
    """Spearman correlation between all pairwise distances of two point sets.

    Parameters
    ----------
    reference : ndarray of shape (n_samples, d1)
        Reference coordinates.
    embedding : ndarray of shape (n_samples, d2)
        Coordinates to compare, same row order.

    Returns
    -------
    float
        Spearman rank correlation over all ``n (n - 1) / 2`` pairs.
    """
    return float(spearmanr(pdist(reference), pdist(embedding)).statistic)


def knn_overlap(reference: np.ndarray, embedding: np.ndarray, k: int = N_NEIGHBORS_SCORE) -> float:
    """Mean fraction of embedding k-NN that are also reference k-NN.

    Parameters
    ----------
    reference : ndarray of shape (n_samples, d1)
        Reference coordinates.
    embedding : ndarray of shape (n_samples, d2)
        Coordinates to compare, same row order.
    k : int, default 15
        Number of neighbours, each point excluded from its own list.

    Returns
    -------
    float
        Overlap in [0, 1], averaged over points.
    """

    def neighbours(points: np.ndarray) -> np.ndarray:
        idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(return_distance=False)
        return idx[:, :k]

    ref, emb = neighbours(reference), neighbours(embedding)
    return float(np.mean([len(np.intersect1d(r, e)) / k for r, e in zip(ref, emb, strict=True)]))


def scatter(ax: Axes, embedding: np.ndarray, t: np.ndarray, title: str) -> None:
    """Draw one embedding the way the page's plot helpers do.

    Parameters
    ----------
    ax : Axes
        Target axes.
    embedding : ndarray of shape (n_samples, 2)
        Embedding to draw.
    t : ndarray of shape (n_samples,)
        Roll parameter, used as the colour.
    title : str
        Axes title.
    """
    ax.scatter(embedding[:, 0], embedding[:, 1], c=t, cmap="turbo", s=4, linewidths=0)
    ax.set(title=title, xticks=[], yticks=[])
    ax.set_aspect("equal")


def save_figure(fig: Figure, path: Path) -> None:
    """Render a figure with the Agg canvas and write it as PNG.

    Parameters
    ----------
    fig : Figure
        Figure to save.
    path : Path
        Destination file.
    """
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120)


def plot_fit(
    embedding: np.ndarray, default: np.ndarray, t: np.ndarray, spec: FitSpec, path: Path
) -> None:
    """Save one fit's PNG: beside the default, or alone for the default itself.

    Parameters
    ----------
    embedding : ndarray of shape (n_samples, 2)
        This fit's embedding.
    default : ndarray of shape (n_samples, 2)
        The default fit's embedding.
    t : ndarray of shape (n_samples,)
        Roll parameter, used as the colour.
    spec : FitSpec
        The fit, for its title.
    path : Path
        Destination PNG.
    """
    if spec.key == "default":
        fig = Figure(figsize=(4, 4), constrained_layout=True)
        scatter(fig.add_subplot(), embedding, t, spec.title)
    else:
        fig = Figure(figsize=(8, 3.6), constrained_layout=True)
        axes = fig.subplots(1, 2)
        scatter(axes[0], default, t, "Default")
        scatter(axes[1], embedding, t, spec.title)
    save_figure(fig, path)


def plot_overview(
    embeddings: Sequence[np.ndarray],
    t: np.ndarray,
    specs: Sequence[FitSpec],
    scores: Sequence[float],
    path: Path,
) -> None:
    """Save a 2 x 3 grid with every fit, titled with its ``rho_geo``.

    Parameters
    ----------
    embeddings : sequence of ndarray
        One embedding per fit.
    t : ndarray of shape (n_samples,)
        Roll parameter, used as the colour.
    specs : sequence of FitSpec
        The fits, same order.
    scores : sequence of float
        ``rho_geo`` per fit, same order.
    path : Path
        Destination PNG.
    """
    fig = Figure(figsize=(12, 8.4), constrained_layout=True)
    axes = fig.subplots(2, 3).ravel()
    for i, (ax, emb, spec, rho) in enumerate(
        zip(axes, embeddings, specs, scores, strict=True), start=1
    ):
        scatter(ax, emb, t, f"({i}) {spec.title}\nrho_geo = {rho:.3f}")
    fig.suptitle("GlassBoxUMAP on the Swiss roll (colour: roll parameter t)")
    save_figure(fig, path)


def run_fits(
    X: np.ndarray,
    specs: Sequence[FitSpec],
    cache: Path,
    reuse: bool,
    extra: dict[str, Any] | None = None,
) -> tuple[list[np.ndarray], list[float]]:
    """Fit every spec, or load an earlier run's results from ``cache``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Input data.
    specs : sequence of FitSpec
        Fits to run.
    cache : Path
        ``.npz`` file to write the results to, or read them from when ``reuse`` is true.
    reuse : bool
        Load from ``cache`` instead of fitting.
    extra : dict, optional
        More :class:`GlassBoxUMAP` arguments for every fit.

    Returns
    -------
    embeddings : list of ndarray
        One embedding per fit.
    seconds : list of float
        Fit time per fit (as recorded when the cache was written, if reused).
    """
    if reuse:
        with np.load(cache) as data:
            return [data[s.key] for s in specs], [float(x) for x in data["seconds"]]
    embeddings, seconds = [], []
    for spec in specs:
        print(f"fitting {spec.key} ...", flush=True)
        emb, secs = fit_embedding(X, spec, extra)
        embeddings.append(emb)
        seconds.append(secs)
    np.savez(
        cache,
        seconds=np.array(seconds),
        **{s.key: e for s, e in zip(specs, embeddings, strict=True)},
    )
    return embeddings, seconds


def main(argv: Sequence[str] | None = None) -> None:
    """Run the six fits, write the figures and print the score table.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments; ``sys.argv[1:]`` when omitted.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument(
        "--reuse", action="store_true", help="load embeddings from OUT/embeddings.npz"
    )
    parser.add_argument(
        "--quick", action="store_true", help="300 points, 2 epochs per fit: a smoke test"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    X, t, sheet = load_swiss_roll(300 if args.quick else 1000)
    extra = {"epochs": 2} if args.quick else None
    embeddings, seconds = run_fits(X, FITS, args.out / "embeddings.npz", args.reuse, extra)

    rho_geo = [distance_spearman(sheet, e) for e in embeddings]
    knn = [knn_overlap(sheet, e) for e in embeddings]

    written = [args.out / "embeddings.npz"]
    for i, (spec, emb) in enumerate(zip(FITS, embeddings, strict=True), start=1):
        path = args.out / f"{i}_{spec.key}.png"
        plot_fit(emb, embeddings[0], t, spec, path)
        written.append(path)
    overview = args.out / "overview.png"
    plot_overview(embeddings, t, FITS, rho_geo, overview)
    written.append(overview)

    header = f"{'#':<2} {'fit':<34} {'secs':>7} {'rho_geo':>8} {'knn15':>6}  verdict"
    print(header)
    print("-" * len(header))
    for i, spec in enumerate(FITS):
        verdict = "unrolled" if rho_geo[i] >= UNROLLED_RHO else "folded"
        print(
            f"{i + 1:<2} {spec.title:<34} {seconds[i]:>7.1f} {rho_geo[i]:>8.3f} "
            f"{knn[i]:>6.3f}  {verdict}"
        )
    print(f"(verdict: unrolled if rho_geo >= {UNROLLED_RHO})")
    print("wrote:")
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":
    main()
