"""The interactive explorer: layout contents in Python, then the saved page in headless Chromium.

The browser tests use Debian's ``/usr/bin/chromium`` through Python playwright. They skip when
either is missing, unless the ``CI`` environment variable is set: there a missing browser fails.
"""

from __future__ import annotations

import html
import importlib.util
import io
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.datasets import make_blobs

from glass_box_umap.plotting.interactive import (
    _CATEGORICAL,
    _DIVERGING,
    _FORMAT_JS,
    N_BARS,
    colour_limits,
    difference_hover_strings,
    explore,
    hover_strings,
    save_explorer,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Every root view of every document has built and painted.
READY_JS = """() => window.Bokeh !== undefined && Bokeh.documents.length > 0
    && Bokeh.index.roots.length > 0 && Bokeh.index.roots.every((v) => v.has_finished())"""


def _model(layout, name):
    found = layout.select_one({"name": name})
    assert found is not None, name
    return found


def _linear_data(n=500, n_features=10, centers=3, seed=0):
    """Blobs through a linear map: contributions are exactly x_j * W[:, j]."""
    X, y = make_blobs(n, n_features, centers=centers, random_state=seed)
    W = np.random.default_rng(seed).normal(size=(2, n_features))
    C = X[:, None, :] * W[None]
    return X, y, C, C.sum(-1)


# ----------------------------------------------------------------------------- layout contents


def test_hover_names_top3_with_signed_contributions():
    # Sample 0: magnitudes d=2 > e=1.41 > a=0.56 > b=0.1 > c=0; sample 1 ranks c, b, a.
    C = np.zeros((2, 2, 5))
    C[0, :, 0] = [0.5, -0.25]
    C[0, :, 1] = [0.1, 0.0]
    C[0, :, 3] = [0.0, -2.0]
    C[0, :, 4] = [1.0, 1.0]
    C[1, :, 0] = [0.01, 0.0]
    C[1, :, 1] = [0.0, -0.5]
    C[1, :, 2] = [3.0, 4.0]
    names = ["a", "b", "c", "d<e", "e"]
    values = np.arange(10.0).reshape(2, 5)
    layout = explore(C.sum(-1), C, names, groups=["p", "q"], feature_values=values)
    tips = _model(layout, "points").data["tip"]
    assert tips[0] == (
        "<b>d&lt;e</b>: +0, -2 = 3<br><b>e</b>: +1, +1 = 4<br><b>a</b>: +0.5, -0.25 = 0"
    )
    assert tips[1] == "<b>c</b>: +3, +4 = 7<br><b>b</b>: +0, -0.5 = 6<br><b>a</b>: +0.01, +0 = 5"
    assert _model(layout, "points").data["group"] == ["p", "q"]
    assert list(_model(layout, "points").data["id"]) == [0, 1]


_NOTE = "differences of contributions C(this) - C(reference); they sum to the displacement"


def test_difference_hover_strings_are_hand_computed_differences():
    # Exact binary values, so the shown numbers add up exactly.
    C = np.zeros((2, 2, 4))
    C[0] = [[1.0, 0.5, -0.25, 2.0], [0.0, 1.5, 0.75, -1.0]]
    C[1] = [[0.5, 0.5, 0.25, 0.0], [1.0, -0.5, 0.25, 0.0]]
    emb = C.sum(-1)  # (3.25, 1.25) and (1.25, 0.75)
    tips = difference_hover_strings(C, emb, 1, ["a", "b", "c", "d&"], reference_id=7)
    # d = C[0] - C[1]: a (+0.5, -1), b (0, +2), c (-0.5, +0.5), d& (+2, -1); squared lengths
    # 1.25, 4, 0.5, 5. The four sum to the displacement (+2, +0.5).
    head = f"<b>reference</b>: sample 7<br>{_NOTE}<br><b>displacement</b>: "
    assert (
        tips[0]
        == head + "+2, +0.5<br><b>d&amp;</b>: +2, -1<br><b>b</b>: +0, +2<br><b>a</b>: +0.5, -1"
    )
    # The reference against itself: zero everywhere, ties in feature order.
    assert tips[1] == head + "+0, +0<br><b>a</b>: +0, +0<br><b>b</b>: +0, +0<br><b>c</b>: +0, +0"

    # Only d& and b on the page (as the feature cap keeps them): a and c sum on one line.
    capped = difference_hover_strings(C[:, :, [3, 1]], emb, 1, ["d&", "b"], n_other=2)
    lines = capped[0].split("<br>")
    assert lines[0] == "<b>reference</b>: sample 1"
    assert lines[3:] == [
        "<b>d&amp;</b>: +2, -1",
        "<b>b</b>: +0, +2",
        "<b>other 2 features</b>: +0, -0.5",
    ]
    shown = np.array(
        [[float(v) for v in re.findall(r"[+-][0-9.e+-]+", line)] for line in lines[3:]]
    )
    np.testing.assert_array_equal(shown.sum(axis=0), emb[0] - emb[1])


def test_difference_hover_strings_sum_to_the_displacement():
    rng = np.random.default_rng(5)
    C = rng.normal(size=(30, 2, 3)).astype(np.float32)
    emb = C.astype(np.float64).sum(-1)
    tips = difference_hover_strings(C, emb, 4, ["u", "v", "w"])
    for i, tip in enumerate(tips):
        numbers = [
            [float(v) for v in line.split(": ")[1].split(", ")] for line in tip.split("<br>")[2:]
        ]
        displacement, features = np.array(numbers[0]), np.array(numbers[1:])
        d = C[i] - C[4]
        np.testing.assert_allclose(displacement, emb[i] - emb[4], rtol=5e-3, atol=1e-12)
        # Three significant digits of each difference, longest first; their sum is the displacement.
        order = np.argsort(-(d**2).sum(axis=0), kind="stable")
        np.testing.assert_allclose(features, d[:, order].T, rtol=5e-3, atol=1e-12)
        np.testing.assert_allclose(d.sum(axis=1), emb[i] - emb[4], rtol=1e-5, atol=1e-5)


def test_reference_starts_the_page_relative_to_it():
    _, y, C, emb = _linear_data(300, 4)
    layout = explore(emb, C, groups=y, reference=12)
    ref = _model(layout, "reference").data
    assert ref["row"] == [12] and ref["id"] == [12]
    assert ref["x"] == [pytest.approx(emb[12, 0], rel=1e-6)]
    assert "sample 12" in _model(layout, "reference_text").text
    assert not _model(layout, "clear_reference").disabled
    empty = explore(emb, C)
    assert _model(empty, "reference").data["row"] == []
    assert "the mean sample" in _model(empty, "reference_text").text
    assert _model(empty, "clear_reference").disabled
    # A reference left out of the subsample is drawn anyway.
    with pytest.warns(UserWarning, match="showing 50 of 300 points"):
        rows = np.asarray(_model(explore(emb, C, max_points=50), "points").data["id"])
    missing = int(np.setdiff1d(np.arange(300), rows)[0])
    with pytest.warns(UserWarning, match="showing 51 of 300 points"):
        layout = explore(emb, C, max_points=50, reference=missing)
    ids = np.asarray(_model(layout, "points").data["id"])
    np.testing.assert_array_equal(ids, np.sort(np.append(rows, missing)))
    ref = _model(layout, "reference").data
    assert ref["id"] == [missing] and ids[ref["row"][0]] == missing


def _prelu_data(n=300, n_features=6, seed=0):
    """Blobs through a bias-free PReLU network: contributions from 0 and from sample ``r``."""
    torch = pytest.importorskip("torch")
    from glass_box_umap.paths import path_contributions

    X, y = make_blobs(n, n_features, centers=3, random_state=seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(n_features, 16, bias=False),
        torch.nn.PReLU(16, init=0.1),
        torch.nn.Linear(16, 2, bias=False),
    ).double()
    with torch.no_grad():
        emb = net(torch.from_numpy(X)).numpy()
    C, _ = path_contributions(net, X, np.zeros(n_features), dtype="float64")

    def relative_to(r):
        return path_contributions(net, X, X[r], dtype="float64")

    return X, y, C, emb, relative_to


def test_path_contributions_for_the_reference_show_in_its_hover():
    X, y, C, emb, relative_to = _prelu_data()
    names = [f"f{j}" for j in range(6)]
    phi, pieces = relative_to(9)
    assert pieces.max() > 1  # paths that bend: exact contributions are not differences
    layout = explore(emb, C, names, y, X, reference=9, reference_contributions=phi)
    path_tips = _model(layout, "points").data["path_tip"]
    displacement = emb - emb[9]
    magnitude = np.sqrt((phi**2).sum(axis=1))
    lines = hover_strings(phi, magnitude, names, X)
    for i in (0, 9, 150):
        head = "<b>reference</b>: sample 9<br>exact path contributions from the reference; "
        head += "they sum to the displacement<br><b>displacement</b>: "
        head += ", ".join(f"{v:+.3g}" for v in displacement[i])
        assert path_tips[i] == f"{head}<br>{lines[i]}"
    np.testing.assert_allclose(phi.sum(-1), displacement, atol=1e-12)
    # Rows of differences and of exact contributions differ for a bent path.
    bent = int(np.argmax(pieces))
    diff = difference_hover_strings(C[:, :2], emb, 9, names)[bent]
    assert diff.split("<br>")[3:] != path_tips[bent].split("<br>")[3:6]
    with pytest.raises(ValueError, match=r"^reference_contributions: do not sum .*X\[8\]"):
        explore(emb, C, names, reference=8, reference_contributions=phi)


def test_hover_shows_every_axis_and_title_names_plotted_axes():
    C = np.zeros((1, 3, 2))
    C[0, :, 1] = [1.0, -2.0, 0.5]
    layout = explore(C.sum(-1), C, ["u", "v"])
    assert (
        _model(layout, "points").data["tip"][0] == "<b>v</b>: +1, -2, +0.5<br><b>u</b>: +0, +0, +0"
    )
    assert _model(layout, "scatter").title.text.endswith("(components 0 and 1 of 3)")


def test_arrays_travel_as_float32_and_start_in_group_mode():
    _, y, C, emb = _linear_data(60, 4)
    layout = explore(emb, C, groups=y)
    points = _model(layout, "points")
    for key in ("x", "y", "cval"):
        assert points.data[key].dtype == np.float32, key
    np.testing.assert_array_equal(points.data["x"], emb[:, 0].astype(np.float32))
    # Group mode: each point's colour value is its group code, mapped through a K-colour palette.
    np.testing.assert_array_equal(points.data["cval"], y.astype(np.float32))
    mapper = _model(layout, "scatter").renderers[0].glyph.fill_color.transform
    assert (mapper.low, mapper.high) == (-0.5, 2.5)
    assert list(mapper.palette) == _CATEGORICAL[:3]
    assert _model(layout, "colour_mode").value == "group"
    assert not _model(layout, "notice").visible


def test_subsample_keeps_max_points_rows_and_warns():
    rng = np.random.default_rng(1)
    C = rng.normal(size=(300, 2, 4))
    emb = C.sum(-1)
    with pytest.warns(UserWarning, match="showing 100 of 300 points"):
        layout = explore(emb, C, max_points=100, random_state=3)
    ids = np.asarray(_model(layout, "points").data["id"])
    assert ids.shape == (100,)
    assert np.unique(ids).size == 100 and ids.min() >= 0 and ids.max() < 300
    assert np.all(np.diff(ids) > 0)
    np.testing.assert_array_equal(_model(layout, "points").data["y"], emb[ids, 1].astype("f4"))
    notice = _model(layout, "notice")
    assert notice.visible and "showing 100 of 300 points (random subsample)" in notice.text
    with pytest.warns(UserWarning):
        again = explore(emb, C, max_points=100, random_state=3)
        other = explore(emb, C, max_points=100, random_state=4)
    np.testing.assert_array_equal(_model(again, "points").data["id"], ids)
    assert not np.array_equal(_model(other, "points").data["id"], ids)


def test_feature_cap_keeps_largest_mean_contributions():
    rng = np.random.default_rng(2)
    scale = np.ones(8)
    scale[[5, 2, 7]] = [9.0, 6.0, 4.0]
    C = rng.normal(size=(50, 2, 8)) * scale
    names = [f"f{j}" for j in range(8)]
    with pytest.warns(UserWarning, match="3 of 8 features"):
        layout = explore(C.sum(-1), C, names, max_values=50 * 2 * 3)
    options = _model(layout, "feature_select").options
    assert [label for _, label in options] == ["f5", "f2", "f7"]
    assert _model(layout, "feature_search").completions == ["f5", "f2", "f7"]
    store = _model(layout, "store")
    assert sorted(k for k in store.data if k.startswith("a")) == sorted(
        f"a{a}f{k}" for k in range(3) for a in (0, 1)
    )
    np.testing.assert_array_equal(store.data["a1f1"], C[:, 1, 2].astype(np.float32))
    assert "3 of 8 features" in _model(layout, "notice").text
    # No cap when the values fit.
    full = explore(C.sum(-1), C, names, max_values=50 * 2 * 8)
    assert len(_model(full, "feature_select").options) == 8


def test_colour_limits_are_symmetric_percentiles():
    shown = np.zeros((101, 2, 2))
    shown[:, 0, 0] = np.arange(101.0) - 50  # |values| 0..50, each twice but 0
    shown[:, 1, 1] = np.arange(101.0)
    limits = colour_limits(shown)
    assert limits.shape == (3, 2)
    np.testing.assert_allclose(limits[0, 0], np.percentile(np.abs(shown[:, 0, 0]), 99))
    np.testing.assert_allclose(limits[1, 1], 99.0)
    np.testing.assert_allclose(limits[2, 1], 99.0)
    # A feature that never contributes on an axis still gets a usable range.
    assert limits[1, 0] == 1.0 and limits[0, 1] == 1.0
    assert _DIVERGING[0].lower() == "#053061" and _DIVERGING[-1].lower() == "#67001f"


def test_bars_start_with_mean_over_all_points():
    _, y, C, emb = _linear_data(200, 20)
    layout = explore(emb, C, groups=y)
    bars = _model(layout, "bar_source").data
    means = C.mean(axis=0)
    expected = np.argsort(-np.hypot(means[0], means[1]))[:N_BARS][::-1]
    assert bars["feature"] == [f"x{j}" for j in expected]
    np.testing.assert_allclose(bars["axis1"], means[0, expected])
    np.testing.assert_allclose(bars["axis2"], means[1, expected])
    assert list(_model(layout, "bars").y_range.factors) == bars["feature"]
    assert "all 200 points" in _model(layout, "selection_count").text


def test_top_feature_mode_colours_most_frequent_first():
    C = np.zeros((6, 2, 3))
    C[:4, 0, 2] = 5.0
    C[4:, 1, 0] = -5.0
    layout = explore(C.sum(-1), C, ["a", "b", "c"])
    assert _model(layout, "colour_mode").value == "top"
    np.testing.assert_array_equal(_model(layout, "points").data["cval"], [0, 0, 0, 0, 1, 1])
    legend = _model(layout, "legend").text
    assert legend.index("c (4)") < legend.index("a (2)")


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        (dict(embedding=np.zeros(5)), "embedding"),
        (dict(embedding=np.full((5, 2), np.nan)), "embedding"),
        (dict(contributions=np.zeros((4, 2, 3))), "contributions"),
        (dict(contributions=np.zeros((5, 3, 3))), "contributions"),
        (dict(contributions=np.full((5, 2, 3), np.inf)), "contributions"),
        (dict(feature_names=["a", "b"]), "feature_names"),
        (dict(groups=[0, 1, 2]), "groups"),
        (dict(groups=np.array([0.0, 1, 2, np.nan, 1])), "groups"),
        (dict(feature_values=np.zeros((5, 4))), "feature_values"),
        (dict(feature_values=np.full((5, 3), np.nan)), "feature_values"),
        (dict(max_points=0), "max_points"),
        (dict(max_values=-1), "max_values"),
        (dict(random_state=1.5), "random_state"),
        (dict(title=3), "title"),
        (dict(reference=5), "reference"),
        (dict(reference=1.0), "reference"),
        (dict(reference_contributions=np.zeros((5, 2, 3))), "reference_contributions"),
        (dict(reference=0, reference_contributions=np.zeros((5, 2, 2))), "reference_contributions"),
        (dict(reference=0, reference_contributions=np.ones((5, 2, 3))), "reference_contributions"),
    ],
)
def test_validation_errors_name_the_argument(kwargs, argument):
    args = dict(embedding=np.zeros((5, 2)), contributions=np.zeros((5, 2, 3)))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=f"^{argument}:"):
        explore(**args)


def test_save_explorer_writes_one_offline_file(tmp_path):
    _, y, C, emb = _linear_data(100, 5)
    path = save_explorer(tmp_path / "page.html", emb, C, groups=y, title="blobs")
    assert path == tmp_path / "page.html"
    page = path.read_text(encoding="utf-8")
    assert "<title>blobs</title>" in page
    # BokehJS inlined, not fetched; arrays as typed binary buffers, not JSON lists.
    assert "<script src=" not in page and "cdn.bokeh.org" not in page
    assert '"dtype":"float32"' in page
    with pytest.raises(FileNotFoundError, match="^path:"):
        save_explorer(tmp_path / "missing" / "page.html", emb, C)


# ------------------------------------------------------------------------------- real browser


@pytest.fixture(scope="module")
def browser():
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("python playwright is not installed")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is absent (apt-get install chromium)")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so the browser test must run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _Page:
    """A page that records uncaught exceptions and console errors."""

    def __init__(self, browser, path: Path, timeout_ms: float):
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        self.page.goto(path.as_uri())
        self.page.wait_for_function(READY_JS, timeout=timeout_ms)
        self.page.wait_for_selector("canvas", timeout=timeout_ms)

    def js(self, code: str, arg=None):
        return self.page.evaluate(code, arg)

    def set_value(self, name: str, value) -> None:
        self.js(
            "([name, value]) => { Bokeh.documents[0].get_model_by_name(name).value = value; }",
            [name, value],
        )

    def pixels(self) -> np.ndarray:
        """RGB screenshot of the scatter plot's data frame, shape (height, width, 3), int16."""
        from PIL import Image

        # Let the next animation frames paint before capturing.
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(READY_JS)
        x, y, width, height = self.js(
            """() => { const v = Bokeh.index.query_one((v) => v.model.name === 'scatter');
            const r = v.el.getBoundingClientRect(); const b = v.frame.bbox;
            return [r.left + b.left, r.top + b.top, b.width, b.height]; }"""
        )
        clip = {"x": x + 1, "y": y + 1, "width": width - 2, "height": height - 2}
        shot = self.page.screenshot(clip=clip)
        return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(np.int16)


def _colour_pixels(pixels: np.ndarray, hex_colour: str, alpha: float = 0.8) -> int:
    """Pixels showing ``hex_colour`` drawn at ``alpha`` over white (within a small tolerance)."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    blended = alpha * rgb + (1 - alpha) * 255
    return int((np.abs(pixels - blended).max(axis=-1) <= 12).sum())


def _assert_scattered(pixels: np.ndarray, min_count: int) -> None:
    """Many coloured pixels, of many colours, spread over the frame.

    The frame's background is white and its grid lines grey, so "coloured" (channels differing
    by more than 20) means drawn points.
    """
    coloured = np.ptp(pixels, axis=-1) > 20
    assert coloured.sum() > min_count, coloured.sum()
    assert np.unique(pixels[coloured], axis=0).shape[0] > 20
    rows, cols = np.nonzero(coloured)
    height, width = coloured.shape
    # The middle 90 % of points span a good part of the frame, as a 2-D scatter should.
    assert np.ptp(np.percentile(rows, [5, 95])) > 0.3 * height
    assert np.ptp(np.percentile(cols, [5, 95])) > 0.3 * width


def _assert_recoloured(
    groups_view: np.ndarray, feature_view: np.ndarray, values: np.ndarray, limit: float
) -> None:
    """Group colours (orange, green) gave way to a red-blue map that matches the signs.

    ``values`` are the plotted feature's signed contributions, ``limit`` its colour limit:
    points beyond half the limit are clearly red (positive) or blue (negative), and a sign
    that no point has must not show at all.
    """
    for colour in _CATEGORICAL[1:3]:
        before = _colour_pixels(groups_view, colour)
        assert before > 30 and _colour_pixels(feature_view, colour) < 0.05 * before, colour
    red_minus_blue = feature_view[..., 0] - feature_view[..., 2]
    for sign, shown in ((1, red_minus_blue > 60), (-1, red_minus_blue < -60)):
        strong = (sign * values > 0.5 * limit).sum()
        if strong >= 20:
            assert shown.sum() > 100, (sign, strong, shown.sum())
        if (sign * values > 0).sum() == 0:
            assert shown.sum() == 0, (sign, shown.sum())


def test_page_renders_and_widgets_work_in_chromium(browser, tmp_path):
    X, y, C, emb = _linear_data(500, 10)
    names = [f"feat_{j}" for j in range(10)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no subsample or cap at this size
        path = save_explorer(tmp_path / "blobs.html", emb, C, names, groups=y, feature_values=X)
    layout = explore(emb, C, names, groups=y, feature_values=X)
    kept = [label for _, label in _model(layout, "feature_select").options]

    page = _Page(browser, path, timeout_ms=60_000)
    assert page.js("() => Bokeh.documents[0].get_model_by_name('points').get_length()") == 500
    groups_view = page.pixels()
    _assert_scattered(groups_view, 2000)
    # All three group colours are on screen.
    for colour in _CATEGORICAL[:3]:
        assert _colour_pixels(groups_view, colour) > 30, colour

    # Hovering the most isolated point shows exactly its precomputed tooltip.
    i = int(np.argmax(cKDTree(emb).query(emb, k=2)[0][:, 1]))
    sx, sy = page.js(
        """([x, y]) => { const v = Bokeh.index.query_one((v) => v.model.name === 'scatter');
        const r = v.el.getBoundingClientRect();
        return [r.left + v.frame.x_scale.compute(x), r.top + v.frame.y_scale.compute(y)]; }""",
        [float(emb[i, 0]), float(emb[i, 1])],
    )
    page.page.mouse.move(sx, sy)
    tooltip = page.page.get_by_text("sample", exact=True)
    tooltip.wait_for(timeout=10_000)
    text = tooltip.evaluate("(e) => e.parentElement.parentElement.innerText")
    tip = _model(layout, "points").data["tip"][i]
    expected = f"sample {i}\ngroup {y[i]}\n" + tip.replace("<br>", "\n")
    assert text == expected.replace("<b>", "").replace("</b>", "")
    page.page.mouse.move(0, 0)

    # Colour by one feature: the diverging map with symmetric limits from Python.
    page.set_value("colour_mode", "feature")
    state = page.js(
        """() => { const d = Bokeh.documents[0];
        const m = d.get_model_by_name('scatter').renderers[0].glyph.fill_color.transform;
        const bar = d.get_model_by_name('colorbar');
        return [m.low, m.high, m.palette.length, bar.visible, bar.title]; }"""
    )
    j = int(_model(layout, "feature_select").value)
    values = C[:, 0, names.index(kept[j])]
    limit = colour_limits(C[:, :2, [names.index(kept[j])]])[0, 0]
    assert state[0] == pytest.approx(-limit) and state[1] == pytest.approx(limit)
    assert state[2:] == [256, True, f"{kept[j]}: signed, component 0"]
    feature_view = page.pixels()
    _assert_scattered(feature_view, 1000)
    _assert_recoloured(groups_view, feature_view, values, limit)

    # Case-insensitive search picks the feature; the L2 quantity switches to a 0-based map.
    page.set_value("feature_search", "FEAT_3")
    page.set_value("quantity", "2")
    picked = page.js(
        """() => { const d = Bokeh.documents[0];
        const m = d.get_model_by_name('scatter').renderers[0].glyph.fill_color.transform;
        return [d.get_model_by_name('feature_select').value, m.low,
                d.get_model_by_name('colorbar').title]; }"""
    )
    assert picked == [str(kept.index("feat_3")), 0, "feat_3: L2 magnitude, components 0-1"]

    # Top-feature mode hides the colour bar.
    page.set_value("colour_mode", "top")
    assert page.js("() => Bokeh.documents[0].get_model_by_name('colorbar').visible") is False
    # Choosing a quantity means colouring by the feature again.
    page.set_value("quantity", "1")
    assert page.js(
        """() => { const d = Bokeh.documents[0];
        return [d.get_model_by_name('colour_mode').value,
                d.get_model_by_name('colorbar').title]; }"""
    ) == ["feature", "feat_3: signed, component 1"]
    # Searching the feature already picked still switches to colouring by it.
    page.set_value("colour_mode", "group")
    page.set_value("feature_search", "feat_3")
    assert page.js("() => Bokeh.documents[0].get_model_by_name('colour_mode').value") == "feature"

    # Selecting points recomputes the bars in the browser: compare with numpy.
    selected = np.flatnonzero(y == 1)[:40]
    page.js(
        "(idx) => { Bokeh.documents[0].get_model_by_name('points').selected.indices = idx; }",
        selected.tolist(),
    )
    bars = page.js(
        """() => { const d = Bokeh.documents[0];
        const s = d.get_model_by_name('bar_source').data;
        return [Array.from(s.feature), Array.from(s.axis1), Array.from(s.axis2),
                d.get_model_by_name('selection_count').text]; }"""
    )
    means = C[selected, :2].mean(axis=0)
    order = np.argsort(-np.hypot(means[0], means[1]))[:N_BARS][::-1]
    assert bars[0] == [names[k] for k in order]
    np.testing.assert_allclose(bars[1], means[0, order], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bars[2], means[1, order], rtol=1e-5, atol=1e-5)
    assert bars[3].startswith("40 of 500 points selected")
    page.js("() => { Bokeh.documents[0].get_model_by_name('points').selected.indices = []; }")
    assert page.js("() => Bokeh.documents[0].get_model_by_name('selection_count').text") == (
        "No selection: bars show the mean over all 500 points"
    )
    _assert_scattered(page.pixels(), 1000)
    assert page.errors == []


@pytest.mark.slow
def test_100k_points_render_in_chromium(browser, tmp_path):
    rng = np.random.default_rng(0)
    X, y = make_blobs(100_000, 64, centers=8, random_state=0)
    C = X[:, None, :] * rng.normal(size=(2, 64))[None]
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="40 of 64 features"):
        path = save_explorer(tmp_path / "big.html", C.sum(-1), C, groups=y, feature_values=X)
    saved = time.perf_counter() - start
    size_mb = path.stat().st_size / 1e6
    assert size_mb < 80
    page = _Page(browser, path, timeout_ms=240_000)
    rendered = time.perf_counter() - start - saved
    assert page.js("() => Bokeh.documents[0].get_model_by_name('points').get_length()") == 100_000
    groups_view = page.pixels()
    _assert_scattered(groups_view, 20_000)
    page.set_value("colour_mode", "feature")
    feature_view = page.pixels()
    _assert_scattered(feature_view, 20_000)
    # The first feature offered is the one with the largest mean L2 contribution.
    top = np.sqrt((C**2).sum(axis=1)).mean(axis=0).argmax()
    limit = colour_limits(C[:, :2, [top]])[0, 0]
    _assert_recoloured(groups_view, feature_view, C[:, 0, top], limit)
    assert page.errors == []
    print(f"100k x 64: {size_mb:.1f} MB, saved in {saved:.1f} s, rendered in {rendered:.1f} s")


def _screen_positions(page: _Page, emb: np.ndarray) -> np.ndarray:
    """Where each point is drawn on the page, in CSS pixels, shape (n, 2)."""
    return np.asarray(
        page.js(
            """(pts) => { const v = Bokeh.index.query_one((v) => v.model.name === 'scatter');
            const r = v.el.getBoundingClientRect();
            return pts.map(([x, y]) => [r.left + v.frame.x_scale.compute(x),
                                        r.top + v.frame.y_scale.compute(y)]); }""",
            emb[:, :2].astype(float).tolist(),
        )
    )


def _drag(page: _Page, path: list[tuple[float, float]]) -> None:
    """Press the left button at the first point, move through the rest, release."""
    mouse = page.page.mouse
    mouse.move(*path[0])
    mouse.down()
    for point in path[1:]:
        mouse.move(*point, steps=8)
    mouse.up()


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each of ``points`` (n, 2) to the segment from ``a`` to ``b``."""
    t = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
    return np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1)


def _bars_state(page: _Page) -> tuple[np.ndarray, list, list, list, str]:
    return page.js(
        """() => { const d = Bokeh.documents[0];
        const s = d.get_model_by_name('bar_source').data;
        return [Array.from(d.get_model_by_name('points').selected.indices), Array.from(s.feature),
                Array.from(s.axis1), Array.from(s.axis2),
                d.get_model_by_name('selection_count').text]; }"""
    )


def _assert_bars_are_means_of(C, names, selected, bars) -> None:
    means = C[selected, :2].mean(axis=0)
    order = np.argsort(-np.hypot(means[0], means[1]))[:N_BARS][::-1]
    assert bars[1] == [names[k] for k in order]
    np.testing.assert_allclose(bars[2], means[0, order], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bars[3], means[1, order], rtol=1e-5, atol=1e-5)
    assert bars[4].startswith(f"{len(selected)} of {len(C)} points selected")


def test_mouse_box_and_lasso_selections_drive_the_bar_chart(browser, tmp_path):
    """Select with the mouse as a user does: the toolbar button, then a drag on the plot.

    The points selected are those drawn inside the dragged shape (points within 3 px of
    its edge may fall either way), and the bars show their mean contributions.
    """
    from matplotlib.path import Path as Polygon

    X, y, C, emb = _linear_data(500, 10)
    names = [f"feat_{j}" for j in range(10)]
    path = save_explorer(tmp_path / "blobs.html", emb, C, names, groups=y, feature_values=X)
    page = _Page(browser, path, timeout_ms=60_000)
    screen = _screen_positions(page, emb)

    # Box select: a rectangle around the middle of group 1's points.
    page.page.locator('[title="Box Select"]').click()
    centre = np.median(screen[y == 1], axis=0)
    half = np.ptp(screen[y == 1], axis=0) / 4
    (x0, y0), (x1, y1) = centre - half, centre + half
    _drag(page, [(x0, y0), (x1, y1)])
    page.page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('points').selected.indices.length > 0"
    )
    bars = _bars_state(page)
    selected = np.sort(np.asarray(bars[0], dtype=int))

    def inside_box(margin: float) -> np.ndarray:
        lo, hi = np.array([x0, y0]) + margin, np.array([x1, y1]) - margin
        return np.flatnonzero(((screen > lo) & (screen < hi)).all(axis=1))

    assert inside_box(3).size >= 10
    assert set(inside_box(3)) <= set(selected) <= set(inside_box(-3))
    _assert_bars_are_means_of(C, names, selected, bars)

    # Lasso: a triangle over group 2's points, drawn as a mouse path.
    page.page.locator('[title="Lasso Select"]').click()
    centre = np.median(screen[y == 2], axis=0)
    r = np.ptp(screen[y == 2], axis=0).max() / 3
    angles = np.deg2rad([90, 210, 330])
    corners = centre + r * np.column_stack([np.cos(angles), np.sin(angles)])
    outline = [
        tuple(corners[k % 3] + (corners[(k + 1) % 3] - corners[k % 3]) * t)
        for k in range(3)
        for t in np.linspace(0, 1, 6, endpoint=False)
    ]
    _drag(page, [*outline, tuple(corners[0])])
    page.page.wait_for_function(
        """(old) => { const s = Bokeh.documents[0].get_model_by_name('points').selected.indices;
        return s.length > 0 && s.join() !== old; }""",
        arg=",".join(map(str, bars[0])),
    )
    bars = _bars_state(page)
    selected = np.sort(np.asarray(bars[0], dtype=int))
    inside = Polygon(corners).contains_points(screen)
    edge_distance = np.min(
        [_segment_distance(screen, corners[k], corners[(k + 1) % 3]) for k in range(3)], axis=0
    )
    strictly = np.flatnonzero(inside & (edge_distance > 3))
    loosely = np.flatnonzero(inside | (edge_distance <= 3))
    assert strictly.size >= 10
    assert set(strictly) <= set(selected) <= set(loosely)
    _assert_bars_are_means_of(C, names, selected, bars)
    assert page.errors == []


def _tooltip(page: _Page, xy, sample: int) -> str:
    """Hover the mouse at ``xy`` and return the text of sample ``sample``'s tooltip."""
    page.page.mouse.move(*xy)
    line = page.page.get_by_text(f"sample {sample}", exact=True)
    line.wait_for(timeout=10_000)
    return line.evaluate("(e) => e.parentElement.innerText")


def _as_text(tip_html: str) -> str:
    """What a hover string reads as on screen (its lines, no tags)."""
    return html.unescape(re.sub(r"</?b>", "", tip_html.replace("<br>", "\n")))


def _wait_for_reference(page: _Page, row: int | None) -> None:
    """Until the page's reference is the point in ``row`` (None: the mean sample)."""
    page.page.wait_for_function(
        """(r) => { const rows = Bokeh.documents[0].get_model_by_name('reference').data.row;
        return r === null ? rows.length === 0 : rows.length === 1 && rows[0] === r; }""",
        arg=row,
    )


def _reference_state(page: _Page) -> list:
    return page.js(
        """() => { const d = Bokeh.documents[0];
        return [Array.from(d.get_model_by_name('reference').data.row),
                d.get_model_by_name('reference_text').text,
                d.get_model_by_name('clear_reference').disabled,
                Array.from(d.get_model_by_name('points').selected.indices)]; }"""
    )


def test_click_sets_the_reference_and_the_hover_shows_differences(browser, tmp_path):
    """Click a point: the hover explains the others relative to it; click again to clear.

    The page starts with the exact path contributions of one reference, r0, and keeps 6 of
    10 features (the other 4 share a line in the hover relative to a clicked point).
    """
    X, y, C, emb, relative_to = _prelu_data(500, 10)
    # The four points drawn farthest from the others: two references to click, two to hover.
    isolated = np.argsort(-cKDTree(emb).query(emb, k=2)[0][:, 1])
    r0, r1, i, j = (int(k) for k in isolated[:4])
    phi, _ = relative_to(r0)
    names = [f"feat_{k}" for k in range(10)]
    args = dict(groups=y, feature_values=X, max_values=500 * 2 * 6)
    args.update(reference=r0, reference_contributions=phi)
    with pytest.warns(UserWarning, match="6 of 10 features"):
        path = save_explorer(tmp_path / "reference.html", emb, C, names, **args)
        layout = explore(emb, C, names, **args)
    points = _model(layout, "points").data
    kept = [names.index(label) for _, label in _model(layout, "feature_select").options]
    page = _Page(browser, path, timeout_ms=60_000)
    screen = _screen_positions(page, emb)

    def expected(tip: str, sample: int) -> str:
        return f"sample {sample}\ngroup {y[sample]}\n" + _as_text(tip)

    def relative(r: int) -> list[str]:
        return difference_hover_strings(C[:, :2, kept], emb, r, [names[k] for k in kept], n_other=4)

    # Starts relative to r0, with its exact contributions in the hover.
    state = _reference_state(page)
    assert state[0] == [r0] and f"sample {r0}" in state[1] and state[2] is False
    assert _tooltip(page, screen[i], i) == expected(points["path_tip"][i], i)
    assert points["path_tip"][i] != relative(r0)[i]

    # Clicking the reference clears it: the hover is relative to the mean again.
    page.page.mouse.click(*screen[r0])
    _wait_for_reference(page, None)
    state = _reference_state(page)
    assert state[0] == [] and "the mean sample" in state[1] and state[2] is True
    assert _tooltip(page, screen[i], i) == expected(points["tip"][i], i)

    # Clicking r1 makes it the reference: differences of contributions, computed in the page.
    page.page.mouse.click(*screen[r1])
    _wait_for_reference(page, r1)
    state = _reference_state(page)
    assert f"sample {r1}" in state[1] and state[2] is False
    tips = relative(r1)
    for k in (i, j):
        text = _tooltip(page, screen[k], k)
        assert text == expected(tips[k], k)
        assert f"reference: sample {r1}\n" in text and "other 4 features" in text
        # The displacement shown is numpy's, to the 3 significant digits shown.
        displacement = [float(v) for v in text.split("\n")[4].split(": ")[1].split(", ")]
        np.testing.assert_allclose(displacement, emb[k] - emb[r1], rtol=5e-3)
    # The reference itself: no displacement, all differences zero (ties in feature order).
    assert _tooltip(page, screen[r1], r1) == expected(tips[r1], r1)

    # Back to r0: its exact contributions again. The button clears.
    page.page.mouse.click(*screen[r0])
    _wait_for_reference(page, r0)
    assert _tooltip(page, screen[i], i) == expected(points["path_tip"][i], i)
    page.page.get_by_role("button", name="Clear reference").click()
    _wait_for_reference(page, None)
    state = _reference_state(page)
    assert state[0] == [] and state[2] is True

    # Quick clicks: Bokeh calls the second of two clicks within 300 ms a double tap. Two
    # points clicked in a row: the second is the reference, however fast the clicks.
    page.page.mouse.click(*screen[r0])
    page.page.mouse.click(*screen[r1])
    _wait_for_reference(page, r1)
    # A double click sets the reference, and does not clear it again.
    page.page.wait_for_timeout(400)
    page.page.mouse.dblclick(*screen[j])
    _wait_for_reference(page, j)
    page.page.wait_for_timeout(100)
    assert _reference_state(page)[0] == [j]
    # A click away from every point changes nothing; clicks never select points.
    offsets = np.array([[25, 25], [-25, 25], [25, -25], [-25, -25]])
    away = [xy for xy in screen[j] + offsets if np.linalg.norm(screen - xy, axis=1).min() > 12]
    page.page.mouse.click(*away[0])
    page.page.wait_for_timeout(100)
    state = _reference_state(page)
    assert state[0] == [j] and state[3] == []
    page.page.get_by_role("button", name="Clear reference").click()
    _wait_for_reference(page, None)
    assert _tooltip(page, screen[i], i) == expected(points["tip"][i], i)
    assert page.errors == []


def test_page_formats_numbers_as_python_does(browser, tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(size=300) * 10.0 ** rng.integers(-9, 9, size=300)
    # Exact binary ties (Python rounds them to even), carries, the 1e-4 and 1e3 edges, zeros.
    special = [1.125, -0.3125, 2.375, 1125.0, 999.5, 99.95, 9.995, 0.00099995, 1e-4, 9.99e-5]
    special += [1e3, 999.0, 0.1, 100.0, 123456789.0, 1e-300, 5e-324, 0.0, -0.0]
    values = np.concatenate([values, special, -np.array(special)]).tolist()
    path = save_explorer(tmp_path / "tiny.html", np.zeros((2, 2)), np.zeros((2, 2, 1)))
    page = _Page(browser, path, timeout_ms=60_000)
    shown = page.js(f"(values) => {{ {_FORMAT_JS}\n return values.map(g3); }}", values)
    assert shown == [f"{v:+.3g}" for v in values]
