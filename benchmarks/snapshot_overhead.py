"""What watching a fit costs: EmbeddingSnapshots against the same fit without it.

Usage::

    python benchmarks/snapshot_overhead.py [--dataset digits] [--repeats 3] [--epochs 200] [--quick]

Fits GlassBoxUMAP with default parameters (200 epochs, batch 10,000) on sklearn's digits,
alternately without callbacks and with ``EmbeddingSnapshots(X, every_n_epochs=10)``
following a 1,000-point subsample (21 snapshots), and prints the median fit seconds and
their ratio. ``--every`` changes the snapshot interval. Both fits use the same seed, so
they do the same training work. Timings are informative; nothing fails on speed.

Then what the optional figures cost, paid at every snapshot when asked for: for each
snapshot of the last fit (1,000 points coloured by label), the live redraw of
``EmbeddingSnapshots(live=True)`` in Jupyter (``live_figure``: the snapshot beside the loss
curve so far, rendered to PNG as the notebook's inline backend renders it,
``bbox_inches='tight'`` at the figure's dpi) and the TensorBoard image of
``log_images=True`` (``snapshot_figure`` drawn to an RGBA array, as ``add_figure`` does);
prints the median, fastest and slowest seconds, after one untimed render. The
``EmbeddingSnapshots`` docstring and the Monitoring Training page
(``docs/guide_src/p04_monitoring_training.py``) quote this table. ``--quick`` (300
samples, 4 epochs, a snapshot every 2, once) checks that the script runs; its figures
mean nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from _common import format_table, header
from matplotlib.backends.backend_agg import FigureCanvasAgg
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from glass_box_umap import EmbeddingSnapshots, GlassBoxUMAP
from glass_box_umap.plotting.training import live_figure, snapshot_figure


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised wine, or digits as given (pixel intensities 0-16), and the labels."""
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    return load_digits(return_X_y=True)


def timed_fit(
    X: np.ndarray, y: np.ndarray, epochs: int, every: int | None
) -> tuple[float, EmbeddingSnapshots | None]:
    """Seconds for one default fit, and its snapshots (None without)."""
    snaps = None if every is None else EmbeddingSnapshots(X, every_n_epochs=every, labels=y)
    reducer = GlassBoxUMAP(
        epochs=epochs, random_state=0, quiet=True, extra_callbacks=[] if snaps is None else [snaps]
    )
    start = time.perf_counter()
    reducer.fit(X)
    return time.perf_counter() - start, snaps


def live_png(snaps: EmbeddingSnapshots, i: int) -> None:
    """Snapshot ``i`` as the live view redraws it: ``live_figure``, rendered to PNG.

    The history drawn with it is the fit's history up to that snapshot, as the live view
    has it during the fit; the PNG is rendered as the notebook's inline backend does.
    """
    epoch = snaps.epochs_[i]
    history = {key: values[:epoch] for key, values in snaps.history_.items()}
    fig = live_figure(snaps.embeddings_[i], snaps.labels_, epoch, history)
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")


def tensorboard_image(snaps: EmbeddingSnapshots, i: int) -> None:
    """Snapshot ``i`` as ``log_images=True`` draws it: ``snapshot_figure`` to an RGBA array."""
    fig = snapshot_figure(snaps.embeddings_[i], snaps.labels_, title=f"epoch {snaps.epochs_[i]}")
    canvas = FigureCanvasAgg(fig)  # what TensorBoard's add_figure does with a figure
    canvas.draw()
    np.asarray(canvas.buffer_rgba())


def render_seconds(
    snaps: EmbeddingSnapshots, render: Callable[[EmbeddingSnapshots, int], None]
) -> list[float]:
    """Seconds ``render`` takes on each snapshot, in order, after one untimed render."""
    render(snaps, len(snaps) - 1)  # warm-up: fonts, the Agg canvas
    seconds = []
    for i in range(len(snaps)):
        start = time.perf_counter()
        render(snaps, i)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "wine"), default="digits")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 samples, 4 epochs: a smoke test")
    args = parser.parse_args(argv)

    X, y = load(args.dataset)
    if args.quick:
        X, y = X[:300], y[:300]
        args.repeats, args.epochs, args.every = 1, 4, 2
    for line in header():
        print(line)
    timed_fit(X[:200], y[:200], 2, args.every)  # warm-up: imports, Lightning, allocator
    plain, snapped, snaps = [], [], None
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both
        plain.append(timed_fit(X, y, args.epochs, None)[0])
        seconds, snaps = timed_fit(X, y, args.epochs, args.every)
        snapped.append(seconds)
    n_snapshots, n_points = len(snaps), len(snaps.indices_)
    base, watched = statistics.median(plain), statistics.median(snapped)
    print(
        f"\n{args.dataset} {X.shape[0]}x{X.shape[1]}, {args.epochs} epochs, "
        f"median of {args.repeats}; snapshots of {n_points:,} points every {args.every} epochs"
    )
    rows = [
        ["fit", "snapshots", "seconds", "ratio"],
        ["plain", "0", f"{base:.2f}", "1.000"],
        ["with EmbeddingSnapshots", str(n_snapshots), f"{watched:.2f}", f"{watched / base:.3f}"],
    ]
    print(format_table(rows, n_left=1))

    print(
        f"\nfigures per snapshot of the last fit ({n_points:,} points coloured by label): the "
        "live view's redraw (live=True) and the TensorBoard image (log_images=True)"
    )
    rows = [["figure", "renders", "median s", "min s", "max s"]]
    for name, render in (
        ("live figure to PNG", live_png),
        ("TensorBoard image", tensorboard_image),
    ):
        seconds = render_seconds(snaps, render)
        rows.append(
            [
                name,
                str(len(seconds)),
                f"{statistics.median(seconds):.3f}",
                f"{min(seconds):.3f}",
                f"{max(seconds):.3f}",
            ]
        )
    print(format_table(rows, n_left=1))


if __name__ == "__main__":
    main()
