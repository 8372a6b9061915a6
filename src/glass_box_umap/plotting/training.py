"""Views of a fit as it unfolds: snapshot grids, loss curves, animations (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .static import new_figure, scatter_embedding

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: What the views read from a snapshot recorder (``EmbeddingSnapshots`` after a fit).
SNAPSHOT_ATTRIBUTES = ("epochs_", "embeddings_", "labels_", "history_")


def check_snapshots(snapshots: Any) -> tuple[Sequence[int], Sequence[np.ndarray]]:
    """The epochs and embeddings of filled snapshots, or a clear error.

    ``snapshots`` is an :class:`~glass_box_umap.callbacks.EmbeddingSnapshots` after a
    fit, or any object with its data attributes (:data:`SNAPSHOT_ATTRIBUTES`): the views
    depend on the recorded data, not on the callback.
    """
    missing = [name for name in SNAPSHOT_ATTRIBUTES if not hasattr(snapshots, name)]
    if missing:
        raise TypeError(
            f"snapshots: expected an EmbeddingSnapshots, got {type(snapshots).__name__} "
            f"(without {missing})"
        )
    if not snapshots.embeddings_:
        raise ValueError("snapshots: holds no snapshots yet; pass it in extra_callbacks and fit")
    return snapshots.epochs_, snapshots.embeddings_


def snapshot_figure(embedding: np.ndarray, labels: np.ndarray | None, title: str) -> Figure:
    """A small figure of one snapshot, for TensorBoard images.

    Parameters
    ----------
    embedding : ndarray of shape (m, n_components)
    labels : ndarray of shape (m,) or None
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot, so it is freed with its last reference.
    """
    fig = new_figure(figsize=(4, 4), pyplot=False)
    scatter_embedding(fig.add_subplot(), embedding, labels, title=title, legend=False)
    return fig


def live_figure(
    embedding: np.ndarray,
    labels: np.ndarray | None,
    epoch: int,
    history: dict[str, list[float]],
) -> Figure:
    """The latest snapshot beside the loss curve so far, for a live view in Jupyter.

    Parameters
    ----------
    embedding : ndarray of shape (m, n_components)
    labels : ndarray of shape (m,) or None
    epoch : int
        Completed epochs at this snapshot.
    history : dict of lists
        The fit's history so far (may be empty before the first epoch).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = new_figure(figsize=(8.5, 3.8), pyplot=False)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    scatter_embedding(left, embedding, labels, title=f"epoch {epoch}", legend=False)
    if history.get("loss"):
        plot_loss(history, ax=right, marks=[epoch])
    else:
        right.set(xlabel="epoch", ylabel="loss per edge", title="training loss")
    return fig


def _panel_indices(n_snapshots: int, max_panels: int) -> np.ndarray:
    """Evenly spaced snapshot indices, always with the first and the last."""
    if n_snapshots <= max_panels:
        return np.arange(n_snapshots)
    return np.unique(np.linspace(0, n_snapshots - 1, max_panels).round().astype(int))


def plot_training(
    snapshots: Any,
    max_panels: int = 11,
    ncols: int = 4,
    panel_size: float = 2.6,
) -> Figure:
    """Grid of embedding snapshots with the loss curve in the last panel.

    Parameters
    ----------
    snapshots : EmbeddingSnapshots
        A callback that has been through a fit.
    max_panels : int, default 11
        Most snapshot panels drawn; evenly spaced snapshots (first and last always)
        when there are more.
    ncols : int, default 4
        Panels per row.
    panel_size : float, default 2.6
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        Snapshot panels titled with their epoch; the last panel shows the loss (and its
        attraction and repulsion parts) per epoch, with the snapshot epochs marked.
    """
    epochs, embeddings = check_snapshots(snapshots)
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise ValueError(f"max_panels: expected a positive integer, got {max_panels!r}")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols: expected a positive integer, got {ncols!r}")
    shown = _panel_indices(len(epochs), max_panels)
    n_panels = len(shown) + 1
    ncols = min(ncols, n_panels)
    nrows = -(-n_panels // ncols)
    fig = new_figure(figsize=(panel_size * ncols, panel_size * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, i in zip(axes, shown, strict=False):
        scatter_embedding(
            ax, embeddings[i], snapshots.labels_, title=f"epoch {epochs[i]}", legend=False
        )
    plot_loss(snapshots.history_, ax=axes[len(shown)], marks=[epochs[i] for i in shown])
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    return fig


def plot_loss(
    history: dict[str, list[float]], ax: Any = None, marks: list[int] | None = None
) -> Figure:
    """Per-epoch loss, attraction and repulsion of a fit (``reducer.history_``).

    Parameters
    ----------
    history : dict of lists
        With ``epoch`` and ``loss`` (``attraction`` and ``repulsion`` drawn when present).
        Epoch ``e`` (0-based) of the history is plotted at ``e + 1`` completed epochs.
    ax : matplotlib Axes, optional
        The axes to draw on; a new 5 x 3.5 inch figure when omitted.
    marks : list of int, optional
        Completed-epoch counts to mark with vertical lines (snapshot epochs).

    Returns
    -------
    matplotlib.figure.Figure
        The figure the curves are drawn in (``ax.figure`` when ``ax`` is given).
    """
    if not isinstance(history, dict) or "loss" not in history or "epoch" not in history:
        raise ValueError("history: expected a dict with 'epoch' and 'loss' lists (history_)")
    if ax is None:
        fig = new_figure(figsize=(5, 3.5))
        ax = fig.add_subplot()
    x = np.asarray(history["epoch"]) + 1
    for name, style in (("loss", "-"), ("attraction", "--"), ("repulsion", ":")):
        if name in history:
            ax.plot(x, history[name], style, label=name, color="black" if name == "loss" else None)
    for epoch in marks or []:
        ax.axvline(epoch, color="0.85", linewidth=0.8, zorder=0)
    ax.set(xlabel="epoch", ylabel="loss per edge", title="training loss")
    ax.legend(fontsize="small", frameon=False)
    return ax.figure


def animate(snapshots: Any, dpi: int = 80, interval_ms: float = 250) -> Any:
    """A matplotlib animation stepping through the snapshots beside the loss curve.

    Parameters
    ----------
    snapshots : EmbeddingSnapshots
    dpi : int, default 80
    interval_ms : float, default 250
        Delay between frames.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Axis limits are fixed to the union over all snapshots so that motion is real.
    """
    from matplotlib.animation import FuncAnimation

    epochs, embeddings = check_snapshots(snapshots)
    fig = new_figure(figsize=(8, 4), dpi=dpi)
    ax_emb, ax_loss = fig.subplots(1, 2)
    stacked = np.concatenate([e[:, :2] for e in embeddings])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    pad = 0.05 * np.maximum(high - low, 1e-9)
    plot_loss(snapshots.history_, ax=ax_loss)
    marker = ax_loss.axvline(epochs[0], color="tab:red")

    def draw(frame: int) -> list[Any]:
        ax_emb.clear()
        scatter_embedding(
            ax_emb,
            embeddings[frame],
            snapshots.labels_,
            title=f"epoch {epochs[frame]}",
            legend=False,
        )
        ax_emb.set(xlim=(low[0] - pad[0], high[0] + pad[0]))
        ax_emb.set(ylim=(low[1] - pad[1], high[1] + pad[1]))
        marker.set_xdata([epochs[frame], epochs[frame]])
        return [marker]

    return FuncAnimation(fig, draw, frames=len(epochs), interval=interval_ms, blit=False)


def save_animation(snapshots: Any, path: str | Path, fps: float = 4.0, dpi: int = 80) -> Path:
    """Write ``animate(snapshots)`` as a GIF (Pillow) or a self-contained HTML player.

    Parameters
    ----------
    snapshots : EmbeddingSnapshots
        The callback after the fit it was passed to (``extra_callbacks``): its
        snapshots and loss history are drawn.
    path : str or Path
        Ending in ``.gif`` or ``.html``.
    fps : float, default 4
        Frames (snapshots) per second; must be positive.
    dpi : int, default 80
        Resolution of the 8 x 4 inch frames: 640 x 320 pixels at the default.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".html"):
        raise ValueError(f"path: expected a .gif or .html file name, got {str(path)!r}")
    if not fps > 0:
        raise ValueError(f"fps: must be positive, got {fps!r}")
    anim = animate(snapshots, dpi=dpi, interval_ms=1000.0 / fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from matplotlib.animation import PillowWriter

        anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    else:
        path.write_text(anim.to_jshtml(fps=fps, embed_frames=True), encoding="utf-8")
    return path
