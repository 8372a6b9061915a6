"""The built documentation site in headless Chromium: figures loaded, explorer alive.

Needs the site built first (``make docs`` or ``make docs-quick``, into ``docs/_build/html``);
without it the test skips, and under ``CI`` (whose ``.ci/run`` builds the site right before
running this test) it fails. The browser is Debian's ``/usr/bin/chromium`` driven by Python
playwright, as in ``tests/test_explorer.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html"
SCREENSHOTS = Path(os.environ.get("GLASS_BOX_UMAP_SCREENSHOTS", SITE.parent / "screenshots"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
# Pages whose figures are checked; the refinement and comparison pages are the contract's.
PAGES = {
    "guide/p02_embedding_refinement.html": 6,  # the six swiss-roll figures, one per fit
    "guide/p03_embedding_comparison.html": 1,
    "guide/p01_getting_started.html": 2,
    "guide/p04_monitoring_training.html": 4,
    "guide/p05_custom_encoders.html": 2,
    "guide/p06_explaining.html": 4,
    "guide/p09_faithfulness.html": 1,
}
BOKEH_READY = """() => window.Bokeh !== undefined && Bokeh.documents.length > 0
    && Bokeh.index.roots.length > 0 && Bokeh.index.roots.every((v) => v.has_finished())"""

pytestmark = pytest.mark.docs


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the site test must run: {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    if not (SITE / "index.html").exists():
        _missing(f"no built site at {SITE} (make docs-quick)")
    if importlib.util.find_spec("playwright") is None:
        _missing("python playwright is not installed")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, relative: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto((SITE / relative).as_uri())
    page.wait_for_load_state("load")
    return page, errors


@pytest.mark.parametrize("relative", list(PAGES))
def test_every_image_on_the_page_loaded(browser, relative):
    page, errors = _open(browser, relative)
    images = page.evaluate(
        """() => Array.from(document.querySelectorAll('article img')).map((img) => (
            {src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth}))"""
    )
    assert len(images) >= PAGES[relative], images
    broken = [img["src"] for img in images if not img["complete"] or img["width"] == 0]
    assert broken == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / (Path(relative).stem + ".png")), full_page=True)
    assert errors == []
    page.close()


def test_refinement_page_reports_every_fit(browser):
    page, _ = _open(browser, "guide/p02_embedding_refinement.html")
    text = page.inner_text("article")
    # One line per fit with its time and geo-Spearman score, and the summary table.
    reports = re.findall(r"fit time [0-9.]+ s, rho_geo = [0-9.-]+", text)
    assert len(reports) == 6, reports
    assert "differs from the prose:" in text
    page.close()


def test_embedded_explorer_responds_to_a_hover(browser):
    page, errors = _open(browser, "guide/p06_explaining.html")
    frame_element = page.wait_for_selector("iframe#explorer")
    frame_element.scroll_into_view_if_needed()
    frame = frame_element.content_frame()
    frame.wait_for_function(BOKEH_READY, timeout=60_000)
    frame.wait_for_selector("canvas", timeout=60_000)
    # The screen position of the point nearest the middle of the data, inside the page.
    x, y = frame.evaluate(
        """() => { const d = Bokeh.documents[0].get_model_by_name('points').data;
        const n = d.x.length; const mx = d.x.reduce((a, b) => a + b) / n;
        const my = d.y.reduce((a, b) => a + b) / n; let best = 0, dist = Infinity;
        for (let i = 0; i < n; i++) { const e = (d.x[i] - mx) ** 2 + (d.y[i] - my) ** 2;
          if (e < dist) { dist = e; best = i; } }
        const v = Bokeh.index.query_one((v) => v.model.name === 'scatter');
        const r = v.el.getBoundingClientRect();
        return [r.left + v.frame.x_scale.compute(d.x[best]),
                r.top + v.frame.y_scale.compute(d.y[best])]; }"""
    )
    box = frame_element.bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    # Points that overlap under the cursor each get a row; the first is the one checked.
    tooltip = frame.get_by_text("sample", exact=True).first
    tooltip.wait_for(timeout=15_000)
    text = tooltip.evaluate("(e) => e.parentElement.parentElement.innerText")
    assert text.startswith("sample ") and "group cultivar_" in text, text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    frame_element.screenshot(path=str(SCREENSHOTS / "explorer_hover.png"))
    assert errors == []
    page.close()
