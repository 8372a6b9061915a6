"""Matplotlib views of an embedding."""

from __future__ import annotations

from typing import Any

import numpy as np


def plot_embedding(
    embedding: np.ndarray,
    color: np.ndarray | None = None,
    *,
    ax: Any = None,
    title: str | None = None,
    cmap: str | None = None,
    point_size: float | None = None,
) -> Any:
    """Scatter a 2-D embedding, coloured by labels (legend) or by values (colorbar).

    Parameters
    ----------
    embedding : array of shape (n_samples, 2)
    color : array of shape (n_samples,), optional
        Integer or string labels give one colour per class and a legend; floats give
        a continuous colormap and a colorbar.
    ax : matplotlib Axes, optional
        Drawn into when given; otherwise a new figure is made.
    title : str, optional
    cmap : str, optional
        Defaults to 'tab10'/'tab20' for labels and 'viridis' for values.
    point_size : float, optional
        Marker area; by default it shrinks with the number of points.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    embedding = np.asarray(embedding)
    if embedding.ndim != 2 or embedding.shape[1] != 2:
        raise ValueError(f"embedding: expected shape (n_samples, 2), got {embedding.shape}")
    n = embedding.shape[0]
    if color is not None:
        color = np.asarray(color)
        if color.shape != (n,):
            raise ValueError(f"color: expected shape ({n},), got {color.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 6), constrained_layout=True)
    else:
        fig = ax.figure
    size = point_size if point_size is not None else float(np.clip(3e4 / max(n, 1), 1, 30))
    x, y = embedding[:, 0], embedding[:, 1]
    if color is None:
        ax.scatter(x, y, s=size, linewidths=0)
    elif color.dtype.kind in "iubOSU":
        classes = np.unique(color)
        cm = plt.get_cmap(cmap or ("tab10" if len(classes) <= 10 else "tab20"))
        for i, cls in enumerate(classes):
            mask = color == cls
            ax.scatter(x[mask], y[mask], s=size, linewidths=0, color=cm(i % cm.N), label=str(cls))
        ax.legend(
            markerscale=max(1.0, 20 / size) ** 0.5,
            fontsize="small",
            frameon=False,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
        )
    else:
        points = ax.scatter(x, y, c=color, s=size, linewidths=0, cmap=cmap or "viridis")
        fig.colorbar(points, ax=ax, shrink=0.8)
    ax.set(xticks=[], yticks=[], title=title or "")
    ax.set_aspect("equal", adjustable="datalim")
    return fig
