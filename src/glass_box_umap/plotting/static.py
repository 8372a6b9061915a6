"""Matplotlib views of an embedding and of its contributions.

Every function returns the Figure it drew on and never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import MISSING, check_contributions, renamed_keyword, resolve_feature_names


def new_figure(figsize: tuple[float, float], dpi: float | None = None, pyplot: bool = True):
    """A figure managed by pyplot (so notebooks show it), or a free-standing one."""
    if pyplot:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, dpi=dpi, layout="constrained")
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi, layout="constrained")


def _check_embedding(embedding: Any, name: str = "embedding") -> np.ndarray:
    embedding = np.asarray(embedding)
    if embedding.ndim != 2 or embedding.shape[1] < 2 or embedding.dtype.kind not in "fiu":
        raise ValueError(
            f"{name}: expected a numeric array of shape (n_samples, >= 2), got "
            f"{embedding.shape} {embedding.dtype}"
        )
    return embedding


def _is_categorical(values: np.ndarray) -> bool:
    return values.dtype.kind in "biuOSU"


def _point_size(n: int) -> float:
    return float(np.clip(3e4 / max(n, 1), 1, 30))


def scatter_embedding(
    ax: Any,
    embedding: np.ndarray,
    color: np.ndarray | None = None,
    *,
    title: str | None = None,
    cmap: str | None = None,
    point_size: float | None = None,
    legend: bool = True,
) -> Any:
    """Draw the first two axes of ``embedding`` into ``ax``; returns the last artist.

    Labels (integers, strings, booleans) get one colour per class and a legend;
    floats get a continuous colormap (the caller adds a colorbar if it wants one).
    """
    import matplotlib as mpl

    n = embedding.shape[0]
    size = point_size if point_size is not None else _point_size(n)
    x, y = embedding[:, 0], embedding[:, 1]
    if color is None:
        artist = ax.scatter(x, y, s=size, linewidths=0)
    elif _is_categorical(color):
        # Missing labels (None, NaN in an object array) are drawn grey, as "missing".
        missing = pd.isna(color) if color.dtype.kind == "O" else np.zeros(n, dtype=bool)
        try:
            classes = np.unique(color[~missing])
        except TypeError:  # mixed types (ints and strings) do not sort; use their text
            color = np.array([str(v) for v in color], dtype=object)
            classes = np.unique(color[~missing])
        cm = mpl.colormaps[cmap or ("tab10" if len(classes) <= 10 else "tab20")]
        for i, cls in enumerate(classes):
            mask = (color == cls) & ~missing
            artist = ax.scatter(
                x[mask], y[mask], s=size, linewidths=0, color=cm(i % cm.N), label=str(cls)
            )
        if missing.any():
            artist = ax.scatter(
                x[missing], y[missing], s=size, linewidths=0, color="0.75", label="missing"
            )
        if legend:
            ax.legend(
                markerscale=max(1.0, 20 / size) ** 0.5,
                fontsize="small",
                frameon=False,
                loc="center left",
                bbox_to_anchor=(1.0, 0.5),
            )
    else:
        artist = ax.scatter(x, y, c=color, s=size, linewidths=0, cmap=cmap or "viridis")
    ax.set(xticks=[], yticks=[], title=title or "")
    ax.set_aspect("equal", adjustable="datalim")
    return artist


def plot_embedding(
    embedding: Any,
    color: Any = None,
    *,
    ax: Any = None,
    title: str | None = None,
    cmap: str | None = None,
    point_size: float | None = None,
) -> Any:
    """Scatter a 2-D embedding, coloured by labels (legend) or by values (colorbar).

    Parameters
    ----------
    embedding : array of shape (n_samples, n_components >= 2)
        The first two axes are drawn.
    color : array of shape (n_samples,), optional
        Integer, boolean or string labels give one colour per class and a legend
        (missing labels, None or NaN among strings, are drawn grey as "missing");
        floats give a continuous colormap and a colorbar.
    ax : matplotlib Axes, optional
        Drawn into when given; otherwise a new figure is made.
    title : str, optional
        The axes' title; none when omitted.
    cmap : str, optional
        Defaults to 'tab10'/'tab20' for labels and 'viridis' for values.
    point_size : float, optional
        Marker area; by default it shrinks with the number of points.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn in (``ax.figure`` when ``ax`` is given).
    """
    embedding = _check_embedding(embedding)
    n = embedding.shape[0]
    if color is not None:
        color = np.asarray(color)
        if color.shape != (n,):
            raise ValueError(f"color: expected shape ({n},), got {color.shape}")
    if ax is None:
        ax = new_figure(figsize=(6, 6)).add_subplot()
    fig = ax.figure
    artist = scatter_embedding(ax, embedding, color, title=title, cmap=cmap, point_size=point_size)
    if color is not None and not _is_categorical(color):
        fig.colorbar(artist, ax=ax, shrink=0.8)
    return fig


def plot_feature_contribution(
    embedding: Any,
    contributions: Any,
    feature: int | str,
    *,
    component: int | str = "l2",
    feature_names: Sequence[str] | None = None,
    ax: Any = None,
    cmap: str | None = None,
    point_size: float | None = None,
) -> Any:
    """Colour the embedding by one feature's contribution.

    Parameters
    ----------
    embedding : array of shape (n_samples, n_components)
        The embedding of the samples the contributions belong to (``transform`` of the
        same ``X``); its first two axes are drawn.
    contributions : array of shape (n_samples, n_components, n_features)
        From :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`; image contributions
        (n_samples, n_components, C, H, W) too, one feature per pixel.
    feature : int or str
        Feature index (flat, C order, for images), or name (looked up in
        ``feature_names``; ``'x[c,h,w]'`` by default for images).
    component : int or 'l2', default 'l2'
        An embedding axis (0-based) for the signed contribution along it, drawn with a
        diverging colormap centred on zero; ``'l2'`` for the contribution's length over
        all axes, drawn with a sequential colormap.
    feature_names : sequence of str, optional
        Names of the features (e.g. ``reducer.feature_names_in_``).
    ax : matplotlib Axes, optional
        Drawn into when given; otherwise a new figure is made.
    cmap : str, optional
        Defaults to 'RdBu_r' (signed) or 'magma_r' (L2).
    point_size : float, optional
        Marker area; by default it shrinks with the number of points. The points with
        the largest absolute values are drawn last, on top.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn in, with a colorbar labelled by the feature (and the
        component, for a signed contribution).
    """
    embedding = _check_embedding(embedding)
    shape = tuple(np.shape(contributions)[2:])
    contributions = check_contributions(contributions, n_samples=embedding.shape[0])
    names = resolve_feature_names(feature_names, shape)
    j = _feature_index(feature, names)
    n_components = contributions.shape[1]
    if component == "l2":
        values = np.linalg.norm(contributions[:, :, j], axis=1)
        label = f"|contribution| of {names[j]}"
        kwargs: dict[str, Any] = {"cmap": cmap or "magma_r", "vmin": 0.0}
    elif isinstance(component, (int, np.integer)) and not isinstance(component, bool):
        if not 0 <= component < n_components:
            raise ValueError(
                f"component: must be in [0, {n_components - 1}] or 'l2', got {component!r}"
            )
        values = contributions[:, component, j]
        limit = float(np.abs(values).max()) or 1.0
        label = f"contribution of {names[j]} to component {component}"
        kwargs = {"cmap": cmap or "RdBu_r", "vmin": -limit, "vmax": limit}
    else:
        raise ValueError(f"component: expected a component index or 'l2', got {component!r}")
    if ax is None:
        ax = new_figure(figsize=(6, 5.4)).add_subplot()
    fig = ax.figure
    size = point_size if point_size is not None else _point_size(embedding.shape[0])
    order = np.argsort(np.abs(values))  # the strongest points on top
    artist = ax.scatter(
        embedding[order, 0], embedding[order, 1], c=values[order], s=size, linewidths=0, **kwargs
    )
    fig.colorbar(artist, ax=ax, shrink=0.8, label=label)
    ax.set(xticks=[], yticks=[], title=names[j])
    ax.set_aspect("equal", adjustable="datalim")
    return fig


def plot_top_features(
    contributions: Any,
    groups: Any,
    k: int = MISSING,
    *,
    feature_names: Sequence[str] | None = None,
    ncols: int = 3,
    n: int = MISSING,
) -> Any:
    """Per group, a bar chart of the features that contribute most, signed per axis.

    Features are ranked within each group by their mean share of the samples' summed
    contribution lengths (``l2_share``, the ranking of
    :func:`glass_box_umap.explain_groups`); the bars show the group's mean signed
    contribution along each embedding axis.

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features)
        From :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`; image contributions
        (n_samples, n_components, C, H, W) too, one feature per pixel.
    groups : array of shape (n_samples,)
        Group label of each sample.
    k : int, default 10
        Features per group (``k`` as in :func:`glass_box_umap.top_features`).
    feature_names : sequence of str, optional
        Names of the features on the bars (e.g. ``reducer.feature_names_in_``);
        ``x0, x1, ...`` (``x[c,h,w]`` for images) when omitted.
    ncols : int, default 3
        Panels per row.
    n : int, deprecated
        The old name of ``k``; works with a ``FutureWarning`` for one release.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per group, in sorted group order.
    """
    from ..explain import explain_groups

    if k is MISSING and n is MISSING:
        k = 10
    k = renamed_keyword("plot_top_features", "k", k, "n", n)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    table = explain_groups(contributions, groups, feature_names=feature_names)
    axis_columns = [c for c in table.columns if c.startswith("mean_component")]
    group_values = list(dict.fromkeys(table["group"]))
    ncols = min(ncols, len(group_values))
    nrows = -(-len(group_values) // ncols)
    n_shown = min(k, table["feature"].nunique())
    height = 0.6 + 0.28 * n_shown * len(axis_columns) ** 0.5
    fig = new_figure(figsize=(4.2 * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    bar = 0.8 / len(axis_columns)
    for ax, group in zip(axes, group_values, strict=False):
        top = table[(table["group"] == group) & (table["rank"] <= n_shown)].sort_values("rank")
        y = np.arange(len(top))
        for component, column in enumerate(axis_columns):
            ax.barh(
                y + (component - (len(axis_columns) - 1) / 2) * bar,
                top[column],
                height=bar,
                label=f"component {component}",
            )
        ax.axvline(0.0, color="black", linewidth=0.6)
        ax.set_yticks(y, top["feature"].astype(str))
        ax.invert_yaxis()
        ax.set(title=f"{group} (n={int(top['n_samples'].iloc[0])})", xlabel="mean contribution")
    axes[0].legend(fontsize="small", frameon=False)
    for ax in axes[len(group_values) :]:
        ax.set_axis_off()
    return fig


def _feature_index(feature: int | str, names: Sequence[str]) -> int:
    if isinstance(feature, str):
        try:
            return list(names).index(feature)
        except ValueError:
            raise ValueError(f"feature: no feature named {feature!r}") from None
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
        raise TypeError(f"feature: expected an index or a name, got {type(feature).__name__}")
    if not 0 <= feature < len(names):
        raise ValueError(f"feature: index {feature} out of range for {len(names)} features")
    return int(feature)
