"""Interactive explorer of an embedding and its per-feature contributions (Bokeh, no server).

:func:`explore` builds a Bokeh layout; :func:`save_explorer` writes it to one self-contained
HTML file (BokehJS inlined, so it opens offline). The page has

* a WebGL scatter of the first two embedding axes, with hover tooltips naming each point's
  top-3 features by contribution magnitude and their signed contributions per axis;
* colour modes switched by widgets: by group, by one feature's contribution (signed on
  component 0, signed on component 1, or the L2 magnitude over both) with a colour bar, or by
  each point's top feature;
* lasso and box selection feeding a bar chart of the mean signed contributions of the
  selected points;
* a reference point: click a point and the hover explains every other point relative to it
  (below); click it again, or "Clear reference", to return to the mean sample.

Everything interactive runs in the browser (``CustomJS``). Hover strings, colour limits and
legends are computed here, so the arithmetic is testable in Python.

The bar chart shows, for the 15 features whose mean contribution vector over the selection
is longest, the mean signed contribution to components 0 and 1 side by side. Because a
point's contributions sum over features to its coordinates, one axis's mean contributions,
summed over all features, equal the selection's mean coordinate on that axis: the bars say
which features put the selection where it is. With nothing selected they show the mean over
all input points (the plotted subsample or not).

Contributions explain a point relative to the mean sample, at the origin. Relative to a
clicked reference ``r``, the hover shows the differences ``C[i] - C[r]`` on components 0 and 1:
they sum exactly over the features to the displacement ``embedding[i] - embedding[r]``, which
the hover states, and its top features are those whose difference vector is longest. They
are not the exact attributions along the path from ``r`` to ``i``
(:func:`glass_box_umap.paths.path_contributions`), which differ where the encoder bends in
between; those cost a path walk per pair, so the page offers them for one reference given in
advance (``reference_contributions``). The differences are computed in the browser, for the
hovered point only, from the contributions the page already holds for colouring: the
reference costs no extra payload. :func:`difference_hover_strings` is the same arithmetic in
Python.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bokeh.embed import file_html
from bokeh.layouts import column, row
from bokeh.models import (
    AutocompleteInput,
    Button,
    ColorBar,
    ColumnDataSource,
    CustomJS,
    CustomJSHover,
    Div,
    FactorRange,
    HoverTool,
    LassoSelectTool,
    LinearColorMapper,
    Select,
)
from bokeh.models.dom import Div as DOMDiv
from bokeh.models.dom import ValueRef
from bokeh.models.layouts import LayoutDOM
from bokeh.palettes import Category20, RdBu, Viridis256, interp_palette
from bokeh.plotting import figure
from bokeh.resources import INLINE
from bokeh.transform import dodge

from .._validation import (
    MISSING,
    check_contributions,
    check_int,
    renamed_keyword,
    resolve_feature_names,
)

#: Default cap on contribution values sent to the page (points x 2 plotted axes x features).
#: float32 values are embedded base64-encoded, 5.33 bytes each: 8e6 values are ~43 MB, and at
#: 100k points x 64 features (40 features kept) the whole page measures about 60 MB.
MAX_VALUES = 8_000_000

#: Features shown in the selection bar chart and named in each hover tooltip.
N_BARS = 15
N_HOVER = 3

# Category20 in strong-then-light order without its greys, which mean "other" here.
_CATEGORICAL = [
    c for c in Category20[20][0::2] + Category20[20][1::2] if c not in ("#7f7f7f", "#c7c7c7")
]
_OTHER_COLOUR = "#c7c7c7"
# Blue below zero, red above (Bokeh's RdBu runs from dark blue to dark red).
_DIVERGING = list(interp_palette(RdBu[11], 256))
_SEQUENTIAL = list(Viridis256)
#: Colour limits ignore the top 1 % of |values| so one outlier does not wash out the map.
_LIMIT_PERCENTILE = 99.0

_MODE_LABELS = {
    "group": "group",
    "feature": "one feature's contribution",
    "top": "top feature (largest |contribution|)",
}
_QUANTITY_LABELS = ["signed, component 0", "signed, component 1", "L2 magnitude, components 0-1"]

# The hover's second line relative to a reference, for each kind of contribution.
_DIFFERENCE_NOTE = (
    "differences of contributions C(this) - C(reference); they sum to the displacement"
)
_PATH_NOTE = "exact path contributions from the reference; they sum to the displacement"
_NO_REFERENCE_TEXT = (
    "<b>Reference</b>: the mean sample. Click a point to explain the others relative to it."
)


def explore(
    embedding: Any = MISSING,
    contributions: Any = MISSING,
    feature_names: Sequence[str] | None = None,
    groups: Any = None,
    feature_values: Any = None,
    *,
    max_points: int = 100_000,
    max_values: int = MAX_VALUES,
    title: str | None = None,
    random_state: int | None = 0,
    reference: int | None = None,
    reference_contributions: Any = None,
    emb: Any = MISSING,
) -> LayoutDOM:
    """Build the interactive explorer as a Bokeh layout.

    Parameters
    ----------
    embedding : array of shape (n_samples, n_components), float
        The embedding, e.g. ``reducer.transform(X)``. With more than two components the
        first two (components 0 and 1) are plotted (the title says so).
    contributions : array of shape (n_samples, n_components, n_features), float
        Per-feature contributions, e.g. ``reducer.compute_contributions(X)``.
    feature_names : sequence of n_features str, optional
        Defaults to ``x0, x1, ...``.
    groups : array of shape (n_samples,), optional
        Labels (int or str) used by the "group" colour mode and shown on hover. Beyond 18
        groups the colours repeat.
    feature_values : array of shape (n_samples, n_features), optional
        Raw input values, shown on hover next to each top feature's contributions.
    max_points : int, default 100_000
        Above this many samples a uniform random subsample of ``max_points`` is plotted
        (plus ``reference`` when it is not drawn); the page says so and a ``UserWarning``
        is emitted.
    max_values : int, default ``MAX_VALUES``
        Cap on the contribution values embedded in the page, counted as plotted points x 2
        axes x features. Above it only the features with the largest mean L2 contribution
        are kept for colouring, the bar chart and the hover relative to a clicked
        reference, which then sums the other features' differences on one line ("other
        k features"); the hover relative to the mean and the "top feature" mode still use
        all features. The page says so and a ``UserWarning`` is emitted.
    title : str, optional
        Title of the scatter plot.
    random_state : int or None, default 0
        Seed of the subsample.
    reference : int, optional
        Row of the sample the page starts with as its reference (see the module
        docstring); clicking points changes it. ``None`` starts relative to the mean.
    reference_contributions : array like ``contributions``, optional
        Exact contributions of every sample relative to sample ``reference``, e.g.
        ``path_contributions(fitted_map(reducer), X, X[reference])[0]``
        (``glass_box_umap.paths``). While ``reference`` is the reference, the hover
        shows these (all components, top features by L2 magnitude, as relative to the
        mean) instead of differences. They travel as one precomputed hover string per
        plotted point, outside ``max_values``. They must sum over the features to
        ``embedding - embedding[reference]`` within 1e-4 x max|embedding|.
    emb : array, deprecated
        The old name of ``embedding``; works with a ``FutureWarning`` for one release.

    Returns
    -------
    bokeh.models.layouts.LayoutDOM
        The layout; models the browser tests drive are named (``colour_mode``,
        ``feature_select``, ``feature_search``, ``quantity``, ``points``, ``bars``,
        ``selection_count``, ``notice``, ``legend``, ``colorbar``, ``reference``: a
        source holding the reference's ``row`` on the page, ``id``, ``x`` and ``y``, empty
        for the mean, ``reference_text``, ``clear_reference``).
    """
    embedding = renamed_keyword("explore", "embedding", embedding, "emb", emb)
    if contributions is MISSING:
        raise TypeError("explore() missing required argument: 'contributions'")
    emb, contributions, names, group_labels, group_codes, feature_values = _check_inputs(
        embedding, contributions, feature_names, groups, feature_values
    )
    max_points = check_int("max_points", max_points, 1)
    max_values = check_int("max_values", max_values, 1)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title: expected a string or None, got {type(title).__name__}")
    if random_state is not None:
        random_state = check_int("random_state", random_state, 0)
    n, n_components, n_features = contributions.shape
    if reference is not None:
        reference = check_int("reference", reference, 0, n - 1)
    path = _check_reference_contributions(reference_contributions, reference, emb, contributions)

    notices = []
    rows = subsample_rows(n, max_points, random_state)
    if reference is not None and reference not in rows:
        rows = np.sort(np.append(rows, reference))
    if rows.size < n:
        notices.append(f"showing {rows.size} of {n} points (random subsample)")
    m = rows.size
    ref_row = None if reference is None else int(np.searchsorted(rows, reference))
    # Magnitudes over all embedding axes rank features for hover, the cap and "top feature".
    magnitude = np.sqrt(np.einsum("ikf,ikf->if", contributions, contributions))
    kept = kept_features(magnitude, max_values // (2 * m))
    if kept.size < n_features:
        notices.append(
            f"colouring, the bar chart and the hover relative to a clicked reference use the "
            f"{kept.size} of {n_features} features with the largest mean |contribution| "
            f"(max_values={max_values}); the hover relative to the mean uses all features"
        )
    for text in notices:
        warnings.warn(f"explore: {text}", UserWarning, stacklevel=2)

    shown = contributions[rows]
    labels = _unique_labels(names)
    plot_title = title if title is not None else "Glass-box UMAP: embedding and contributions"
    if n_components > 2:
        plot_title += f" (components 0 and 1 of {n_components})"

    tips = hover_strings(
        shown,
        magnitude[rows],
        names,
        None if feature_values is None else feature_values[rows],
    )
    points = ColumnDataSource(
        {
            "x": emb[rows, 0].astype(np.float32),
            "y": emb[rows, 1].astype(np.float32),
            "id": rows.astype(np.int32),
            "tip": tips,
        },
        name="points",
    )
    if group_labels is not None:
        points.data["group"] = [group_labels[c] for c in group_codes[rows]]
    # The page's row of the reference whose exact contributions it holds; -1 for none.
    path_row = -1
    if path is not None:
        path_row = ref_row
        points.data["path_tip"] = path_hover_strings(
            path[rows],
            emb[rows],
            path_row,
            names,
            None if feature_values is None else feature_values[rows],
            reference_id=reference,
        )
    # Per-feature columns (not one flat array) so each travels as its own typed array and the
    # JS reads a feature's values without index arithmetic.
    store = ColumnDataSource(
        {
            f"a{a}f{k}": shown[:, a, j].astype(np.float32)
            for k, j in enumerate(kept)
            for a in (0, 1)
        },
        name="store",
    )
    # Categorical modes: integer codes per point, one colour and one legend line per code.
    top_codes, (top_labels, top_palette) = _top_feature_codes(magnitude[rows], labels)
    store.data["top_code"] = top_codes
    categorical = {"top": (top_codes, top_palette, _legend_html(top_labels, top_palette))}
    if group_labels is not None:
        store.data["group_code"] = group_codes[rows].astype(np.int32)
        group_palette = _cycle(len(group_labels))
        categorical["group"] = (
            store.data["group_code"],
            group_palette,
            _legend_html(group_labels, group_palette),
        )
    # Start by group when there are groups, else by each point's top feature; Python sets
    # these colours so the page is right before any widget is touched.
    start = "group" if group_labels is not None else "top"
    codes, palette, legend_text = categorical[start]
    points.data["cval"] = codes.astype(np.float32)

    limits = colour_limits(shown[:, :2, kept])
    mapper = LinearColorMapper(palette=palette, low=-0.5, high=len(palette) - 0.5)
    scatter, renderer = _scatter(points, mapper, plot_title, m)
    ref_source, ref_text, clear = _reference_widgets(scatter, points, ref_row)
    escaped_kept = [html.escape(names[j]) for j in kept]
    hover = CustomJSHover(
        args=dict(
            points=points,
            store=store,
            reference=ref_source,
            names=escaped_kept,
            n_other=int(n_features - kept.size),
            n_hover=N_HOVER,
            has_groups=group_labels is not None,
            path_row=path_row,
            difference_note=_DIFFERENCE_NOTE,
        ),
        code=_FORMAT_JS + _HOVER_JS,
    )
    scatter.add_tools(
        HoverTool(
            renderers=[renderer],
            tooltips=DOMDiv(children=[ValueRef(field="id", format="tip", formatter=hover)]),
        )
    )
    colorbar = ColorBar(color_mapper=mapper, name="colorbar", visible=False, width=14)
    scatter.add_layout(colorbar, "right")

    modes = (["group"] if group_labels is not None else []) + ["feature", "top"]
    mode = Select(
        title="Colour by",
        value=start,
        options=[(k, _MODE_LABELS[k]) for k in modes],
        name="colour_mode",
        width=300,
    )
    kept_labels = [labels[j] for j in kept]
    feature_select = Select(
        title="Feature (ranked by mean |contribution|)",
        value="0",
        options=[(str(k), lab) for k, lab in enumerate(kept_labels)],
        name="feature_select",
        width=300,
    )
    search = AutocompleteInput(
        title="Search feature",
        completions=kept_labels,
        case_sensitive=False,
        search_strategy="includes",
        min_characters=1,
        placeholder="type a feature name",
        name="feature_search",
        width=300,
    )
    quantity = Select(
        title="Quantity",
        value="0",
        options=[(str(q), lab) for q, lab in enumerate(_QUANTITY_LABELS)],
        name="quantity",
        width=300,
    )
    legend = Div(text=legend_text, name="legend", width=300)
    notice = Div(
        text="<br>".join(html.escape(t) for t in notices),
        name="notice",
        visible=bool(notices),
        styles={
            "background": "#fff3cd",
            "border": "1px solid #e0b000",
            "padding": "4px 8px",
            "font-weight": "bold",
        },
    )

    recolour = CustomJS(
        args=dict(
            points=points,
            store=store,
            mapper=mapper,
            colorbar=colorbar,
            mode=mode,
            feature_select=feature_select,
            quantity=quantity,
            legend=legend,
            names=kept_labels,
            limits=limits.tolist(),
            quantity_labels=_QUANTITY_LABELS,
            diverging=_DIVERGING,
            sequential=_SEQUENTIAL,
            categorical={k: [palette, text] for k, (_, palette, text) in categorical.items()},
        ),
        code=_RECOLOUR_JS,
    )
    mode.js_on_change("value", recolour)
    # Choosing a feature or a quantity means "colour by that feature".
    pick = CustomJS(args=dict(mode=mode, recolour=recolour), code=_PICK_FEATURE_JS)
    quantity.js_on_change("value", pick)
    feature_select.js_on_change("value", pick)
    search.js_on_change(
        "value",
        CustomJS(
            args=dict(feature_select=feature_select, mode=mode, names=kept_labels, legend=legend),
            code=_SEARCH_JS,
        ),
    )

    bars, bar_source, count = _bar_chart(contributions[:, :2, kept].mean(axis=0), kept_labels, n)
    points.selected.js_on_change(
        "indices",
        CustomJS(
            args=dict(
                points=points,
                store=store,
                bar_source=bar_source,
                y_range=bars.y_range,
                count=count,
                names=kept_labels,
                all_data=dict(bar_source.data),
                all_text=count.text,
                n_bars=N_BARS,
            ),
            code=_SELECTION_JS,
        ),
    )
    controls = column(
        mode, search, feature_select, quantity, legend, row(ref_text, clear), count, bars
    )
    return column(notice, row(scatter, controls), name="explorer")


def save_explorer(
    path: str | Path,
    embedding: Any = MISSING,
    contributions: Any = MISSING,
    *args: Any,
    emb: Any = MISSING,
    **kwargs: Any,
) -> Path:
    """Write :func:`explore`'s layout to one self-contained HTML file and return its path.

    BokehJS is inlined (``bokeh.resources.INLINE``), so the file opens without network access.
    The page title is ``title`` when given.

    Parameters
    ----------
    path : str or Path
        The HTML file to write; its parent directory must exist.
    embedding : array-like of shape (n_samples, n_components)
        As in :func:`explore`.
    contributions : array-like of shape (n_samples, n_components, n_features)
        As in :func:`explore`.
    *args
        More positional arguments of :func:`explore` (``feature_names``, ...).
    emb : array-like, optional
        The old name of ``embedding``; works with a ``FutureWarning`` for one release.
    **kwargs
        The keyword arguments of :func:`explore`.

    Returns
    -------
    Path
        ``path``.
    """
    embedding = renamed_keyword("save_explorer", "embedding", embedding, "emb", emb)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path: directory {str(path.parent)!r} does not exist")
    layout = explore(embedding, contributions, *args, **kwargs)
    page = file_html(layout, INLINE, title=kwargs.get("title") or "Glass-box UMAP explorer")
    path.write_text(page, encoding="utf-8")
    return path


def subsample_rows(n: int, max_points: int, random_state: int | None) -> np.ndarray:
    """Sorted row indices of a uniform subsample of ``min(n, max_points)`` of ``n`` rows.

    Returns
    -------
    array of shape (min(n, max_points),), int64
        ``arange(n)`` when nothing needs dropping.
    """
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def kept_features(magnitude: np.ndarray, max_features: int) -> np.ndarray:
    """Indices of the features to embed in the page, most important first.

    Parameters
    ----------
    magnitude : array of shape (n_samples, n_features), float
        L2 norm of each contribution vector over the embedding axes.
    max_features : int
        How many fit; at least one is always kept.

    Returns
    -------
    array of shape (min(n_features, max(1, max_features)),), int64
        Features sorted by decreasing mean magnitude (ties by index).
    """
    order = np.argsort(-magnitude.mean(axis=0), kind="stable")
    return order[: max(1, max_features)]


def colour_limits(shown: np.ndarray) -> np.ndarray:
    """Colour-map upper limits for each quantity and feature.

    Parameters
    ----------
    shown : array of shape (n_samples, 2, n_kept), float
        Contributions on the two plotted axes.

    Returns
    -------
    array of shape (3, n_kept), float
        Rows: the ``_LIMIT_PERCENTILE`` percentile of |contribution| on components 0 and 1
        (the signed maps run from -limit to +limit, centred on zero), and of the L2 magnitude
        over both axes (the sequential map runs from 0 to limit). Zeros become 1 so that a
        feature that never contributes still has a valid colour range.
    """
    quantities = np.concatenate(
        [np.abs(shown), np.sqrt((shown**2).sum(axis=1, keepdims=True))], axis=1
    )
    limits = np.percentile(quantities, _LIMIT_PERCENTILE, axis=0)
    limits[~(limits > 0)] = 1.0
    return limits


def hover_strings(
    contributions: np.ndarray,
    magnitude: np.ndarray,
    feature_names: Sequence[str],
    feature_values: np.ndarray | None = None,
) -> list[str]:
    """One HTML snippet per sample naming its top features and their contributions.

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features), float
    magnitude : array of shape (n_samples, n_features), float
        L2 norm over the embedding axes; ranks the features.
    feature_names : sequence of n_features str
    feature_values : array of shape (n_samples, n_features), optional
        Raw values, appended as ``= value``.

    Returns
    -------
    list of n_samples str
        Up to ``N_HOVER`` lines ``<b>name</b>: +c1, -c2`` (signed contribution per axis,
        3 significant digits), largest magnitude first, joined by ``<br>``.
    """
    n, _, n_features = contributions.shape
    k = min(N_HOVER, n_features)
    top = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(magnitude, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    escaped = [html.escape(name) for name in feature_names]
    # (n, k, n_components): the signed contributions of each sample's top features.
    values = np.take_along_axis(contributions, top[:, None, :], axis=2).transpose(0, 2, 1)
    # Python floats via tolist() format several times faster than numpy scalars.
    lines = [
        f"<b>{escaped[j]}</b>: " + ", ".join(f"{v:+.3g}" for v in vals)
        for j, vals in zip(top.ravel().tolist(), values.reshape(n * k, -1).tolist(), strict=True)
    ]
    if feature_values is not None:
        raw = np.take_along_axis(feature_values, top, axis=1).ravel().tolist()
        lines = [f"{line} = {v:.4g}" for line, v in zip(lines, raw, strict=True)]
    return ["<br>".join(lines[i * k : (i + 1) * k]) for i in range(n)]


def difference_hover_strings(
    contributions: np.ndarray,
    embedding: np.ndarray,
    reference: int,
    feature_names: Sequence[str],
    *,
    reference_id: int | None = None,
    n_other: int = 0,
) -> list[str]:
    """The hover relative to a clicked reference, as the page computes it in the browser.

    Values are rounded to float32 first, as the page holds them, then differenced and summed
    in float64 in the page's order, so the strings equal the browser's.

    Parameters
    ----------
    contributions : array of shape (n_samples, 2, n_features), float
        Contributions to the two plotted components of the features on the page.
    embedding : array of shape (n_samples, 2), float
        The plotted coordinates.
    reference : int
        Row of the reference.
    feature_names : sequence of n_features str
        HTML-escaped here.
    reference_id : int, optional
        The reference's sample number in the text; defaults to ``reference``.
    n_other : int, default 0
        Features not on the page; when positive, a last line gives their summed
        differences, the displacement minus the shown features' sum.

    Returns
    -------
    list of n_samples str
        Lines joined by ``<br>``: the reference, what the numbers are, the displacement
        ``embedding[i] - embedding[reference]``, then up to ``N_HOVER`` lines
        ``<b>name</b>: +d0, +d1`` with ``d = C[i] - C[reference]`` (3 significant digits),
        longest ``d`` first (ties by feature order), then the "other" line. Over all
        features (and the "other" line) the ``d`` sum to the displacement.
    """
    C = np.asarray(contributions, dtype=np.float32).astype(np.float64)
    xy = np.asarray(embedding, dtype=np.float32).astype(np.float64)
    n, _, n_features = C.shape
    d = C - C[reference]
    displacement = xy - xy[reference]
    # Sequential, feature by feature, as the browser adds them.
    total = np.zeros((n, 2))
    for j in range(n_features):
        total = total + d[:, :, j]
    squared = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]
    top = np.argsort(-squared, axis=1, kind="stable")[:, :N_HOVER]
    escaped = [html.escape(name) for name in feature_names]
    sample = reference if reference_id is None else reference_id
    head = [f"<b>reference</b>: sample {sample}", _DIFFERENCE_NOTE]
    tips = []
    for i in range(n):
        lines = head + [f"<b>displacement</b>: {_pair(displacement[i])}"]
        lines += [f"<b>{escaped[j]}</b>: {_pair(d[i, :, j])}" for j in top[i].tolist()]
        if n_other > 0:
            lines.append(f"<b>other {n_other} features</b>: {_pair(displacement[i] - total[i])}")
        tips.append("<br>".join(lines))
    return tips


def path_hover_strings(
    contributions: np.ndarray,
    embedding: np.ndarray,
    reference: int,
    feature_names: Sequence[str],
    feature_values: np.ndarray | None = None,
    *,
    reference_id: int | None = None,
) -> list[str]:
    """The hover for exact contributions relative to one reference, computed in Python.

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features), float
        Relative to the sample in row ``reference``.
    embedding : array of shape (n_samples, n_components), float
    reference : int
    feature_names : sequence of n_features str
    feature_values : array of shape (n_samples, n_features), optional
    reference_id : int, optional
        The reference's sample number in the text; defaults to ``reference``.

    Returns
    -------
    list of n_samples str
        The reference, what the numbers are, the displacement on every component, then
        :func:`hover_strings`' lines for ``contributions``.
    """
    emb = np.asarray(embedding, dtype=np.float64)
    displacement = (emb - emb[reference]).tolist()
    magnitude = np.sqrt(np.einsum("ikf,ikf->if", contributions, contributions))
    lines = hover_strings(contributions, magnitude, feature_names, feature_values)
    sample = reference if reference_id is None else reference_id
    head = f"<b>reference</b>: sample {sample}<br>{_PATH_NOTE}<br><b>displacement</b>: "
    return [head + _pair(dis) + "<br>" + tip for dis, tip in zip(displacement, lines, strict=True)]


def _pair(values: Any) -> str:
    return ", ".join(f"{v:+.3g}" for v in np.asarray(values, dtype=np.float64).tolist())


def _check_reference_contributions(
    reference_contributions: Any, reference: int | None, emb: np.ndarray, contributions: np.ndarray
) -> np.ndarray | None:
    """``reference_contributions`` as a checked array shaped like ``contributions``, or None."""
    if reference_contributions is None:
        return None
    if reference is None:
        raise ValueError(
            "reference_contributions: given without reference, the sample they are relative to"
        )
    path = check_contributions(
        reference_contributions, n_samples=len(emb), name="reference_contributions"
    )
    if path.shape != contributions.shape:
        raise ValueError(
            f"reference_contributions: expected the shape of contributions, "
            f"{contributions.shape}, got {path.shape}"
        )
    error = np.abs(path.sum(axis=-1) - (emb - emb[reference])).max()
    scale = np.abs(emb).max()
    if not error <= 1e-4 * scale:
        raise ValueError(
            f"reference_contributions: do not sum to embedding - embedding[{reference}] "
            f"(max error {error:.3g}, scale {scale:.3g}); are they relative to sample "
            f"{reference}, e.g. path_contributions(module, X, X[{reference}])?"
        )
    return path


def _check_inputs(
    emb: Any, contributions: Any, feature_names: Any, groups: Any, feature_values: Any
) -> tuple[
    np.ndarray, np.ndarray, list[str], list[str] | None, np.ndarray | None, np.ndarray | None
]:
    """Validate the arrays; returns them as numpy with groups as (labels, codes)."""
    emb = np.asarray(emb)
    if emb.ndim != 2 or emb.shape[1] < 2 or emb.shape[0] == 0 or emb.dtype.kind not in "fiu":
        raise ValueError(
            f"embedding: expected a numeric array of shape (n_samples, n_components >= 2), got "
            f"{emb.dtype} of shape {emb.shape}"
        )
    if not np.isfinite(emb).all():
        raise ValueError("embedding: contains NaN or infinity")
    n = emb.shape[0]
    shape = tuple(np.shape(contributions)[2:])
    contributions = check_contributions(contributions, n_samples=n, name="contributions")
    if contributions.shape[1] != emb.shape[1]:
        raise ValueError(
            f"contributions: has {contributions.shape[1]} components, embedding has {emb.shape[1]}"
        )
    n_features = contributions.shape[2]
    names = resolve_feature_names(feature_names, shape, name="feature_names")

    labels = codes = None
    if groups is not None:
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.shape[0] != n:
            raise ValueError(
                f"groups: expected shape ({n},) to match emb, got shape {groups.shape}"
            )
        if groups.dtype.kind == "f" and not np.isfinite(groups).all():
            raise ValueError("groups: contains NaN or infinity")
        try:
            uniques, codes = np.unique(groups, return_inverse=True)
        except TypeError:
            # Mixed types (e.g. ints and strings) do not sort; group by their text instead.
            uniques, codes = np.unique(groups.astype(str), return_inverse=True)
        labels = [str(u) for u in uniques]

    if feature_values is not None:
        feature_values = np.asarray(feature_values)
        if feature_values.ndim > 2 and feature_values.shape == (n, *shape):
            feature_values = feature_values.reshape(n, n_features)
        if feature_values.dtype.kind not in "fiub" or feature_values.shape != (n, n_features):
            raise ValueError(
                f"feature_values: expected a numeric array of shape ({n}, {n_features}), got "
                f"{feature_values.dtype} of shape {feature_values.shape}"
            )
        feature_values = feature_values.astype(np.float64)
        if not np.isfinite(feature_values).all():
            raise ValueError("feature_values: contains NaN or infinity")
    return emb, contributions, names, labels, codes, feature_values


def _unique_labels(names: list[str]) -> list[str]:
    """Feature names made unique (``name #j``) since the bar chart's factors must be."""
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [name if seen[name] == 1 else f"{name} #{j}" for j, name in enumerate(names)]


def _cycle(k: int) -> list[str]:
    return [_CATEGORICAL[i % len(_CATEGORICAL)] for i in range(k)]


def _legend_html(labels: Sequence[str], colours: Sequence[str]) -> str:
    items = [
        f'<span style="display:inline-block;width:10px;height:10px;background:{c};'
        f'margin-right:4px"></span>{html.escape(lab)}'
        for lab, c in zip(labels, colours, strict=False)
    ]
    return "<br>".join(items)


def _top_feature_codes(
    magnitude: np.ndarray, labels: list[str]
) -> tuple[np.ndarray, tuple[list[str], list[str]]]:
    """Per-sample code of its top feature, most frequent first; the rest share "other".

    Returns
    -------
    codes : array of shape (n_samples,), int32
        In ``[0, n_coloured]``; ``n_coloured`` means "other".
    legend : (labels, colours)
        One entry per code, "other" last when present.
    """
    top = magnitude.argmax(axis=1)
    features, counts = np.unique(top, return_counts=True)
    by_count = features[np.argsort(-counts, kind="stable")]
    coloured = by_count[: len(_CATEGORICAL)]
    lookup = np.full(magnitude.shape[1], len(coloured), dtype=np.int32)
    lookup[coloured] = np.arange(len(coloured), dtype=np.int32)
    counts_of = dict(zip(features.tolist(), counts.tolist(), strict=True))
    legend_labels = [f"{labels[j]} ({counts_of[j]})" for j in coloured]
    colours = _CATEGORICAL[: len(coloured)]
    if len(by_count) > len(coloured):
        other = sum(counts_of[j] for j in by_count[len(coloured) :])
        legend_labels.append(f"other ({other})")
        colours = colours + [_OTHER_COLOUR]
    return lookup[top], (legend_labels, colours)


def _scatter(
    points: ColumnDataSource, mapper: LinearColorMapper, title: str, n: int
) -> tuple[Any, Any]:
    """The scatter plot and its points' renderer (the hover is added by :func:`explore`)."""
    plot = figure(
        title=title,
        width=720,
        height=640,
        output_backend="webgl",
        tools="pan,wheel_zoom,box_select,reset,save",
        active_scroll="wheel_zoom",
        name="scatter",
    )
    plot.add_tools(LassoSelectTool(continuous=False))
    renderer = plot.scatter(
        "x",
        "y",
        source=points,
        size=_point_size(n),
        fill_color={"field": "cval", "transform": mapper},
        line_color=None,
        fill_alpha=0.8,
        nonselection_fill_alpha=0.1,
    )
    # The ranges follow the points alone: the reference's ring must not rescale the view.
    plot.x_range.renderers = [renderer]
    plot.y_range.renderers = [renderer]
    plot.xaxis.axis_label = "component 0"
    plot.yaxis.axis_label = "component 1"
    return plot, renderer


def _point_size(n: int) -> float:
    """Marker size in pixels: smaller for more points."""
    return float(np.clip(20 * n**-0.2, 2, 8))


def _reference_widgets(
    plot: Any, points: ColumnDataSource, row: int | None
) -> tuple[ColumnDataSource, Div, Button]:
    """The reference's state (a source drawn as a ring), its text and its clear button.

    A click on a point makes it the reference, a click on the reference clears it; clicks
    leave the selection (and the bar chart) alone. Bokeh reports the second of two clicks
    within 300 ms as a double tap, not a tap, so double taps count as clicks too, except
    that they never clear: a double click sets the reference once.
    """
    data: dict[str, list] = {"x": [], "y": [], "row": [], "id": []}
    if row is not None:
        data = {
            "x": [float(points.data["x"][row])],
            "y": [float(points.data["y"][row])],
            "row": [row],
            "id": [int(points.data["id"][row])],
        }
    source = ColumnDataSource(data, name="reference")
    # A black ring around the reference, wider than the points at any density.
    point_size = _point_size(len(points.data["x"]))
    size = max(3 * point_size, 14.0)
    plot.scatter(
        "x", "y", source=source, size=size, fill_color=None, line_color="black", line_width=2.5
    )
    text = Div(
        text=_NO_REFERENCE_TEXT if row is None else _reference_text(data["id"][0]),
        name="reference_text",
        width=230,
    )
    clear = Button(label="Clear reference", name="clear_reference", disabled=row is None, width=120)
    click = CustomJS(
        args=dict(points=points, reference=source, plot=plot, radius=point_size / 2 + 3),
        code=_CLICK_JS,
    )
    plot.js_on_event("tap", click)
    plot.js_on_event("doubletap", click)
    clear.js_on_event(
        "button_click",
        CustomJS(
            args=dict(reference=source), code="reference.data = {x: [], y: [], row: [], id: []};"
        ),
    )
    source.js_on_change(
        "data",
        CustomJS(
            args=dict(
                reference=source,
                text=text,
                clear=clear,
                none_text=_NO_REFERENCE_TEXT,
                template=_reference_text("{id}"),
            ),
            code=_REFERENCE_CHANGED_JS,
        ),
    )
    return source, text, clear


def _reference_text(sample: Any) -> str:
    return (
        f"<b>Reference</b>: sample {sample}. The hover shows contributions relative to it; "
        "click it again to return to the mean."
    )


def _bar_chart(means: np.ndarray, labels: list[str], n: int) -> tuple[Any, ColumnDataSource, Div]:
    """Bars of the mean signed contributions over all points; the JS replaces them on select.

    ``means`` has shape (2, n_features): the mean contribution to components 0 and 1.
    """
    order = np.argsort(-np.hypot(means[0], means[1]), kind="stable")[:N_BARS]
    # Factors run bottom to top: reversing puts the largest bar at the top.
    order = order[::-1]
    source = ColumnDataSource(
        {
            "feature": [labels[j] for j in order],
            "axis1": means[0, order].tolist(),
            "axis2": means[1, order].tolist(),
        },
        name="bar_source",
    )
    plot = figure(
        y_range=FactorRange(factors=list(source.data["feature"])),
        width=420,
        height=440,
        title="Mean signed contribution",
        tools="save",
        toolbar_location=None,
        name="bars",
    )
    plot.hbar(
        y=dodge("feature", 0.2, range=plot.y_range),
        right="axis1",
        height=0.38,
        source=source,
        color=_CATEGORICAL[0],
        legend_label="component 0",
    )
    plot.hbar(
        y=dodge("feature", -0.2, range=plot.y_range),
        right="axis2",
        height=0.38,
        source=source,
        color=_CATEGORICAL[1],
        legend_label="component 1",
    )
    plot.legend.location = "bottom_right"
    plot.xaxis.axis_label = "mean contribution"
    count = Div(
        text=f"No selection: bars show the mean over all {n} points", name="selection_count"
    )
    return plot, source, count


# Categorical modes map integer codes k through a K-colour palette with limits
# [-0.5, K - 0.5], so bin k of the linear mapper is exactly colour k.
_RECOLOUR_JS = """
const n = points.get_length();
const cval = new Float32Array(n);
if (mode.value === "feature") {
    const j = Number(feature_select.value);
    const q = Number(quantity.value);
    const lim = limits[q][j];
    if (q < 2) {
        cval.set(store.data[`a${q}f${j}`]);
        mapper.palette = diverging;
        mapper.low = -lim;
        mapper.high = lim;
    } else {
        const a0 = store.data[`a0f${j}`];
        const a1 = store.data[`a1f${j}`];
        for (let i = 0; i < n; i++) cval[i] = Math.hypot(a0[i], a1[i]);
        mapper.palette = sequential;
        mapper.low = 0;
        mapper.high = lim;
    }
    colorbar.title = `${names[j]}: ${quantity_labels[q]}`;
    colorbar.visible = true;
    legend.text = "";
} else {
    const [palette, text] = categorical[mode.value];
    cval.set(store.data[`${mode.value}_code`]);
    mapper.palette = palette;
    mapper.low = -0.5;
    mapper.high = palette.length - 0.5;
    colorbar.visible = false;
    legend.text = text;
}
points.data.cval = cval;
points.change.emit();
"""

_PICK_FEATURE_JS = """
if (mode.value === "feature") {
    recolour.execute(cb_obj);
} else {
    mode.value = "feature";
}
"""

_SEARCH_JS = """
const wanted = cb_obj.value.trim().toLowerCase();
if (wanted === "") return;
const j = names.findIndex((name) => name.toLowerCase() === wanted);
if (j < 0) {
    legend.text = `No feature named "${cb_obj.value}" on this page.`;
    return;
}
feature_select.value = String(j);
mode.value = "feature";  // no-op when the pick above already switched
"""

_SELECTION_JS = """
const sel = points.selected.indices;
if (sel.length === 0) {
    bar_source.data = all_data;
    y_range.factors = all_data.feature;
    count.text = all_text;
    return;
}
const rows = [];
for (let j = 0; j < names.length; j++) {
    const a0 = store.data[`a0f${j}`];
    const a1 = store.data[`a1f${j}`];
    let s0 = 0, s1 = 0;
    for (const i of sel) { s0 += a0[i]; s1 += a1[i]; }
    rows.push([names[j], s0 / sel.length, s1 / sel.length]);
}
rows.sort((a, b) => Math.hypot(b[1], b[2]) - Math.hypot(a[1], a[2]));
const top = rows.slice(0, n_bars).reverse();
bar_source.data = {
    feature: top.map((r) => r[0]),
    axis1: top.map((r) => r[1]),
    axis2: top.map((r) => r[2]),
};
y_range.factors = top.map((r) => r[0]);
count.text = `${sel.length} of ${points.get_length()} points selected: bars show their mean`;
"""

# Python's format(v, "+.3g") (round half to even, exponent from 1e-4 to below 1e3 written
# out, trailing zeros dropped), so hover numbers read the same in both modes. toExponential
# gives the exact decimal digits of moderate doubles; it rounds exact ties away from zero,
# hence the rounding done here on 100 digits.
_FORMAT_JS = """
const g3 = (v) => {
    const sign = v < 0 || Object.is(v, -0) ? "-" : "+";
    const a = Math.abs(v);
    if (a === 0) return `${sign}0`;
    const [mantissa, exponent] = a.toExponential(100).split("e");
    const digits = mantissa.replace(".", "");
    let m = Number(digits.slice(0, 3));
    let e = Number(exponent);
    const rest = digits.slice(3);
    if (rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || m % 2 === 1))) {
        m += 1;
    }
    if (m === 1000) { m = 100; e += 1; }
    const d = String(m);
    const trim = (t) => t.replace(/\\.?0+$/, "");
    let text;
    if (e < -4 || e >= 3) {
        const exp = String(Math.abs(e)).padStart(2, "0");
        text = `${trim(`${d[0]}.${d.slice(1)}`)}e${e < 0 ? "-" : "+"}${exp}`;
    } else if (e === 2) {
        text = d;
    } else if (e >= 0) {
        text = trim(`${d.slice(0, e + 1)}.${d.slice(e + 1)}`);
    } else {
        text = trim(`0.${"0".repeat(-e - 1)}${d}`);
    }
    return sign + text;
};
"""

# CustomJSHover: the whole tooltip of the hovered point, as an element (a formatter's
# string would be escaped). Relative to a clicked reference it mirrors
# difference_hover_strings.
_HOVER_JS = """
const i = special_vars.index;
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
let text = `<div><b>sample</b> ${value}</div>`;
if (has_groups) text += `<div><b>group</b> ${escape(points.data.group[i])}</div>`;
const ref = reference.data.row;
let body;
if (ref.length === 0) {
    body = points.data.tip[i];
} else if (ref[0] === path_row) {
    body = points.data.path_tip[i];
} else {
    const r = ref[0];
    const d0 = new Float64Array(names.length);
    const d1 = new Float64Array(names.length);
    let s0 = 0, s1 = 0;
    const top = [];  // [squared length, feature], longest first, earlier feature on ties
    for (let j = 0; j < names.length; j++) {
        const a0 = store.data[`a0f${j}`];
        const a1 = store.data[`a1f${j}`];
        d0[j] = a0[i] - a0[r];
        d1[j] = a1[i] - a1[r];
        s0 += d0[j];
        s1 += d1[j];
        const sq = d0[j] * d0[j] + d1[j] * d1[j];
        let p = top.length;
        while (p > 0 && sq > top[p - 1][0]) p--;
        if (p < n_hover) {
            top.splice(p, 0, [sq, j]);
            if (top.length > n_hover) top.pop();
        }
    }
    const dx = points.data.x[i] - points.data.x[r];
    const dy = points.data.y[i] - points.data.y[r];
    const lines = [
        `<b>reference</b>: sample ${reference.data.id[0]}`,
        difference_note,
        `<b>displacement</b>: ${g3(dx)}, ${g3(dy)}`,
        ...top.map(([, j]) => `<b>${names[j]}</b>: ${g3(d0[j])}, ${g3(d1[j])}`),
    ];
    if (n_other > 0) {
        lines.push(`<b>other ${n_other} features</b>: ${g3(dx - s0)}, ${g3(dy - s1)}`);
    }
    body = lines.join("<br>");
}
const el = document.createElement("div");
el.innerHTML = `${text}<div>${body}</div>`;
return el;
"""

# The point drawn nearest the click, within ``radius`` pixels, wins.
_CLICK_JS = """
const {x, y} = cb_obj;
const xs = points.data.x, ys = points.data.y;
const kx = plot.inner_width / (plot.x_range.end - plot.x_range.start);
const ky = plot.inner_height / (plot.y_range.end - plot.y_range.start);
let best = -1, nearest = radius * radius;
for (let i = 0; i < xs.length; i++) {
    const d = ((xs[i] - x) * kx) ** 2 + ((ys[i] - y) * ky) ** 2;
    if (d < nearest) { best = i; nearest = d; }
}
if (best < 0) return;
const current = reference.data.row;
if (current.length > 0 && current[0] === best) {
    if (cb_obj.event_name === "tap") reference.data = {x: [], y: [], row: [], id: []};
} else {
    reference.data = {x: [xs[best]], y: [ys[best]], row: [best], id: [points.data.id[best]]};
}
"""

_REFERENCE_CHANGED_JS = """
const ids = reference.data.id;
text.text = ids.length === 0 ? none_text : template.replace("{id}", String(ids[0]));
clear.disabled = ids.length === 0;
"""
