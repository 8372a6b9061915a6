"""Interactive explorer of an embedding and its per-feature contributions (Bokeh, no server).

:func:`explore` builds a Bokeh layout; :func:`save_explorer` writes it to one self-contained
HTML file (BokehJS inlined, so it opens offline). The page has

* a WebGL scatter of the first two embedding axes, with hover tooltips naming each point's
  top-3 features by contribution magnitude and their signed contributions per axis;
* colour modes switched by widgets: by group, by one feature's contribution (signed on
  component 0, signed on component 1, or the L2 magnitude over both) with a colour bar, or by
  each point's top feature;
* lasso and box selection feeding a bar chart of the mean signed contributions of the
  selected points.

Everything interactive runs in the browser (``CustomJS``). Hover strings, colour limits and
legends are computed here, so the arithmetic is testable in Python.

The bar chart shows, for the 15 features whose mean contribution vector over the selection
is longest, the mean signed contribution to components 0 and 1 side by side. Because a
point's contributions sum over features to its coordinates, one axis's mean contributions,
summed over all features, equal the selection's mean coordinate on that axis: the bars say
which features put the selection where it is. With nothing selected they show the mean over
all input points (the plotted subsample or not).
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
    ColorBar,
    ColumnDataSource,
    CustomJS,
    Div,
    FactorRange,
    HoverTool,
    LassoSelectTool,
    LinearColorMapper,
    Select,
)
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
        Above this many samples a uniform random subsample of ``max_points`` is plotted;
        the page says so and a ``UserWarning`` is emitted.
    max_values : int, default ``MAX_VALUES``
        Cap on the contribution values embedded in the page, counted as plotted points x 2
        axes x features. Above it only the features with the largest mean L2 contribution
        are kept for colouring and the bar chart (hover and the "top feature" mode still
        use all features); the page says so and a ``UserWarning`` is emitted.
    title : str, optional
        Title of the scatter plot.
    random_state : int or None, default 0
        Seed of the subsample.
    emb : array, deprecated
        The old name of ``embedding``; works with a ``FutureWarning`` for one release.

    Returns
    -------
    bokeh.models.layouts.LayoutDOM
        The layout; models the browser tests drive are named (``colour_mode``,
        ``feature_select``, ``feature_search``, ``quantity``, ``points``, ``bars``,
        ``selection_count``, ``notice``, ``legend``, ``colorbar``).
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
    notices = []
    rows = subsample_rows(n, max_points, random_state)
    if rows.size < n:
        notices.append(f"showing {rows.size} of {n} points (random subsample)")
    m = rows.size
    # Magnitudes over all embedding axes rank features for hover, the cap and "top feature".
    magnitude = np.sqrt(np.einsum("ikf,ikf->if", contributions, contributions))
    kept = kept_features(magnitude, max_values // (2 * m))
    if kept.size < n_features:
        notices.append(
            f"colouring and the bar chart use the {kept.size} of {n_features} features with the "
            f"largest mean |contribution| (max_values={max_values}); hover uses all features"
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
    scatter = _scatter(points, mapper, plot_title, m, group_labels is not None)
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
    controls = column(mode, search, feature_select, quantity, legend, count, bars)
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
    The other arguments are those of :func:`explore`; the page title is ``title`` when given.
    The parent directory must exist.
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


def _check_inputs(
    emb: Any, contributions: Any, feature_names: Any, groups: Any, feature_values: Any
) -> tuple[
    np.ndarray, np.ndarray, list[str], list[str] | None, np.ndarray | None, np.ndarray | None
]:
    """Validate the arrays; returns them as numpy with groups as (labels, codes)."""
    emb = np.asarray(emb)
    if emb.ndim != 2 or emb.shape[1] < 2 or emb.shape[0] == 0 or emb.dtype.kind not in "fiu":
        raise ValueError(
            f"emb: expected a numeric array of shape (n_samples, n_components >= 2), got "
            f"{emb.dtype} of shape {emb.shape}"
        )
    if not np.isfinite(emb).all():
        raise ValueError("emb: contains NaN or infinity")
    n = emb.shape[0]
    shape = tuple(np.shape(contributions)[2:])
    contributions = check_contributions(contributions, n_samples=n, name="contributions")
    if contributions.shape[1] != emb.shape[1]:
        raise ValueError(
            f"contributions: has {contributions.shape[1]} components, emb has {emb.shape[1]}"
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
    points: ColumnDataSource, mapper: LinearColorMapper, title: str, n: int, has_groups: bool
) -> Any:
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
    size = float(np.clip(20 * n**-0.2, 2, 8))
    renderer = plot.scatter(
        "x",
        "y",
        source=points,
        size=size,
        fill_color={"field": "cval", "transform": mapper},
        line_color=None,
        fill_alpha=0.8,
        nonselection_fill_alpha=0.1,
    )
    group_line = "<div><b>group</b> @group</div>" if has_groups else ""
    plot.add_tools(
        HoverTool(
            renderers=[renderer],
            tooltips=f"<div><b>sample</b> @id</div>{group_line}<div>@tip{{safe}}</div>",
        )
    )
    plot.xaxis.axis_label = "component 0"
    plot.yaxis.axis_label = "component 1"
    return plot


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
