"""to_shap: our contributions as a shap.Explanation, and SHAP's plots drawn on them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from glass_box_umap import GlassBoxUMAP  # noqa: E402
from glass_box_umap.explain import to_shap  # noqa: E402
from glass_box_umap.paths import fitted_map, path_contributions  # noqa: E402

from .conftest import require_module  # noqa: E402

shap = require_module("shap")


@pytest.fixture(autouse=True)
def _one_thread():
    """The path walk is many small batched passes: one thread, so that a busy CPU does
    not turn thread hand-offs into most of the time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def wine_model(wine):
    X, _ = wine
    reducer = GlassBoxUMAP(n_neighbors=5, epochs=3, num_batches=2, random_state=0, quiet=True)
    return reducer.fit(X), X


NAMES = [f"f{j}" for j in range(13)]


@pytest.mark.parametrize("component", [0, 1])
def test_explanation_adds_up_to_the_embedding(wine_model, component):
    reducer, X = wine_model
    emb = reducer.transform(X)
    explanation = to_shap(reducer.compute_contributions(X), X, component, NAMES)
    assert isinstance(explanation, shap.Explanation)
    assert explanation.values.shape == explanation.data.shape == X.shape
    assert explanation.feature_names == NAMES
    np.testing.assert_array_equal(explanation.base_values, np.zeros(len(X)))
    total = explanation.values.sum(1) + explanation.base_values
    np.testing.assert_allclose(total, emb[:, component], rtol=0, atol=1e-5 * abs(emb).max())


def test_against_a_sample_the_base_value_is_where_it_lands(wine_model):
    reducer, X = wine_model
    emb = reducer.transform(X)
    phi, _ = path_contributions(fitted_map(reducer), X, X[0])
    explanation = to_shap(phi, X, 1, base_values=emb[0, 1])
    np.testing.assert_array_equal(explanation.base_values, np.full(len(X), emb[0, 1]))
    total = explanation.values.sum(1) + explanation.base_values
    np.testing.assert_allclose(total, emb[:, 1], rtol=0, atol=1e-5 * abs(emb).max())


def test_shaps_plots_draw_ours(wine_model, tmp_path):
    reducer, X = wine_model
    explanation = to_shap(reducer.compute_contributions(X[:40]), X[:40], 0, NAMES)
    top = NAMES[int(np.abs(explanation.values[0]).argmax())]
    plots = {
        "waterfall": lambda: shap.plots.waterfall(explanation[0], show=False),
        "beeswarm": lambda: shap.plots.beeswarm(explanation, show=False),
        "bar": lambda: shap.plots.bar(explanation, show=False),
        "heatmap": lambda: shap.plots.heatmap(explanation, show=False),
    }
    for name, draw in plots.items():
        plt.close("all")
        draw()
        figure = plt.gcf()
        labels = {t.get_text() for ax in figure.axes for t in ax.get_yticklabels()}
        if name == "waterfall":  # the largest contribution of sample 0 is named
            assert any(top in label for label in labels), labels
        path = tmp_path / f"{name}.png"
        figure.savefig(path)
        assert path.stat().st_size > 5_000, name
    plt.close("all")


def test_bad_arguments_are_named(wine_model):
    reducer, X = wine_model
    C = reducer.compute_contributions(X[:5])
    with pytest.raises(ValueError, match=r"component: expected an integer in \[0, 1\]"):
        to_shap(C, X[:5], component=2)
    with pytest.raises(ValueError, match="X: expected 5 samples of 13 features"):
        to_shap(C, X[:4])
    with pytest.raises(ValueError, match="base_values: expected a finite number or 5"):
        to_shap(C, X[:5], base_values=np.zeros(3))
    with pytest.raises(ValueError, match="feature_names"):
        to_shap(C, X[:5], feature_names=["a"])


def test_dataframe_columns_name_the_features(wine_model):
    pd = pytest.importorskip("pandas")
    reducer, X = wine_model
    frame = pd.DataFrame(X[:3], columns=[f"c{j}" for j in range(13)])
    explanation = to_shap(reducer.compute_contributions(X[:3]), frame)
    assert explanation.feature_names == list(frame.columns)


def test_missing_shap_says_how_to_install_it(monkeypatch, wine_model):
    reducer, X = wine_model
    monkeypatch.setitem(__import__("sys").modules, "shap", None)
    with pytest.raises(ImportError, match=r"pip install glass_box_umap\[shap\]"):
        to_shap(reducer.compute_contributions(X[:2]), X[:2])


def test_raw_units_with_an_offset_add_up():
    # Raw wine moved by 1e4: path sums once missed by 1.7e-4 of the spread (issue 22, item 5).
    from sklearn.datasets import load_wine

    X = load_wine().data * 0.1 + 1e4
    reducer = GlassBoxUMAP(n_neighbors=5, epochs=3, num_batches=2, random_state=0, quiet=True)
    emb = reducer.fit(X).transform(X).astype(np.float64)
    phi, _ = path_contributions(fitted_map(reducer), X, X[0])
    explanation = to_shap(phi, X, 1, base_values=emb[0, 1])
    total = explanation.values.sum(1) + explanation.base_values
    np.testing.assert_allclose(total, emb[:, 1], rtol=0, atol=1e-5 * np.ptp(emb[:, 1]))
