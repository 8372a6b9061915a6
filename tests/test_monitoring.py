"""Training monitoring: history, snapshots, loss curves, animations, static plots."""

import inspect
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from glass_box_umap import EmbeddingSnapshots, GlassBoxUMAP  # noqa: E402
from glass_box_umap.plotting import (  # noqa: E402
    plot_embedding,
    plot_feature_contribution,
    plot_loss,
    plot_top_features,
    plot_training,
    save_animation,
)

from .conftest import FAST  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def snapped(digits):
    X, y = digits
    snaps = EmbeddingSnapshots(X, every_n_epochs=3, labels=y, n_samples=150, random_state=1)
    reducer = GlassBoxUMAP(random_state=0, extra_callbacks=[snaps], **FAST).fit(X)
    return reducer, snaps


def test_history_has_one_entry_per_epoch(fitted):
    h = fitted.history_
    assert set(h) == {"epoch", "loss", "attraction", "repulsion", "edges_per_s", "time", "lr"}
    assert all(len(v) == FAST["epochs"] for v in h.values())
    assert h["epoch"] == list(range(FAST["epochs"]))
    np.testing.assert_allclose(np.add(h["attraction"], h["repulsion"]), h["loss"], rtol=1e-5)
    assert all(t > 0 for t in h["edges_per_s"])
    assert np.all(np.diff(h["time"]) > 0)
    assert h["lr"] == [1e-3] * FAST["epochs"]


def test_snapshots_taken_at_the_right_epochs(snapped, digits):
    reducer, snaps = snapped
    X, y = digits
    # before training, every 3rd epoch, and the last (8) epoch
    assert snaps.epochs_ == [0, 3, 6, 8]
    assert len(snaps) == 4
    assert all(e.shape == (150, 2) and e.dtype == np.float32 for e in snaps.embeddings_)
    assert len(np.unique(snaps.indices_)) == 150
    np.testing.assert_array_equal(snaps.labels_, y[snaps.indices_])
    assert snaps.history_["loss"] == reducer.history_["loss"]
    # snapshots move during training; the first is the untrained encoder
    assert not np.allclose(snaps.embeddings_[0], snaps.embeddings_[-1])
    # with best weights restored at the last epoch, the last snapshot is the final model
    if reducer.best_epoch_ == FAST["epochs"] - 1:
        np.testing.assert_allclose(
            snaps.embeddings_[-1], reducer.transform(X[snaps.indices_]), rtol=1e-5, atol=1e-5
        )


def test_snapshot_checks(digits):
    X, y = digits
    with pytest.raises(ValueError, match="every_n_epochs"):
        EmbeddingSnapshots(X, every_n_epochs=0)
    with pytest.raises(ValueError, match="labels: expected shape"):
        EmbeddingSnapshots(X, labels=y[:-1])
    with pytest.raises(ValueError, match="X: contains NaN"):
        EmbeddingSnapshots(np.full((5, 3), np.nan))
    snaps = EmbeddingSnapshots(X[:, :10])
    with pytest.raises(ValueError, match="X: has 10 features"):
        GlassBoxUMAP(extra_callbacks=[snaps], **FAST).fit(X)
    with pytest.raises(ValueError, match="holds no snapshots"):
        plot_training(snaps)


def _image(fig, tmp_path, name="fig.png"):
    path = tmp_path / name
    fig.savefig(path)
    return np.asarray(Image.open(path).convert("RGB"))


def test_plot_training_grid_and_loss(snapped, tmp_path):
    _, snaps = snapped
    fig = plot_training(snaps, ncols=3)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    titles = [ax.get_title() for ax in axes]
    assert titles[:4] == ["epoch 0", "epoch 3", "epoch 6", "epoch 8"]
    assert titles[4] == "training loss"
    loss_lines = axes[4].get_lines()
    np.testing.assert_allclose(loss_lines[0].get_ydata(), snaps.history_["loss"])
    assert (_image(fig, tmp_path).std(axis=(0, 1)) > 10).all()
    # more snapshots than panels: first and last always shown
    fig = plot_training(snaps, max_panels=2)
    assert [ax.get_title() for ax in fig.axes][:2] == ["epoch 0", "epoch 8"]


def test_save_animation_gif_and_html(snapped, tmp_path):
    _, snaps = snapped
    gif = snaps.save_animation(tmp_path / "train.gif", fps=5)
    with Image.open(gif) as im:
        assert im.n_frames == len(snaps.epochs_)
    html = save_animation(snaps, tmp_path / "train.html")
    text = html.read_text()
    assert text.count("data:image/png;base64") >= len(snaps.epochs_)
    with pytest.raises(ValueError, match="path: expected a .gif or .html"):
        snaps.save_animation(tmp_path / "train.mp4")


def test_save_animation_method_takes_what_the_function_takes():
    method = list(inspect.signature(EmbeddingSnapshots.save_animation).parameters.values())
    function = list(inspect.signature(save_animation).parameters.values())
    assert method[1:] == function[1:]  # self and snapshots aside, the same keywords


def test_views_depend_on_the_snapshot_data_not_the_callback(snapped):
    _, snaps = snapped
    data = types.SimpleNamespace(
        epochs_=snaps.epochs_,
        embeddings_=snaps.embeddings_,
        labels_=snaps.labels_,
        history_=snaps.history_,
    )
    fig = plot_training(data)
    assert len(fig.axes) >= 2
    plt.close(fig)
    with pytest.raises(TypeError, match="snapshots: expected an EmbeddingSnapshots"):
        plot_training(types.SimpleNamespace(epochs_=[0]))


def test_tensorboard_images(digits, tmp_path):
    X, _ = digits
    snaps = EmbeddingSnapshots(X, every_n_epochs=4, n_samples=50, log_images=True)
    GlassBoxUMAP(random_state=0, checkpoint_dir=tmp_path, extra_callbacks=[snaps], **FAST).fit(X)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    assert "embedding" in events.Tags()["images"]
    assert [e.step for e in events.Images("embedding")] == [0, 4, 8]
    assert {"loss", "attraction", "repulsion", "edges_per_s"} <= set(events.Tags()["scalars"])
    assert len(events.Scalars("loss")) == FAST["epochs"]
    assert plt.get_fignums() == []  # snapshot figures are not left open in pyplot


def test_plot_embedding_labels_and_values(fitted, digits):
    X, y = digits
    fig = plot_embedding(fitted.embedding_, y)
    assert len(fig.axes[0].get_legend().get_texts()) == len(np.unique(y))
    fig = plot_embedding(fitted.embedding_, X[:, 20])
    assert len(fig.axes) == 2  # scatter and colorbar
    with pytest.raises(ValueError, match="color: expected shape"):
        plot_embedding(fitted.embedding_, y[:-1])
    with pytest.raises(ValueError, match="embedding: expected"):
        plot_embedding(fitted.embedding_[:, 0])


def test_plot_embedding_missing_and_mixed_labels():
    emb = np.arange(12.0).reshape(6, 2)
    labels = np.array(["b", None, "a", np.nan, "a", 3], dtype=object)
    fig = plot_embedding(emb, labels)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["3", "a", "b", "missing"]
    sizes = [len(c.get_offsets()) for c in fig.axes[0].collections]
    assert sizes == [1, 2, 1, 2]  # every point drawn once


def test_plot_feature_contribution(fitted, digits):
    X, _ = digits
    C = fitted.compute_contributions(X)
    names = [f"pixel{j}" for j in range(64)]
    fig = plot_feature_contribution(
        fitted.embedding_, C, "pixel20", component=1, feature_names=names
    )
    points = fig.axes[0].collections[0]
    values = np.asarray(points.get_array())
    np.testing.assert_allclose(np.sort(values), np.sort(C[:, 1, 20]))
    low, high = points.get_clim()
    assert low == -high == -np.abs(C[:, 1, 20]).max()  # centred on zero
    assert points.get_cmap().name == "RdBu_r"
    fig = plot_feature_contribution(fitted.embedding_, C, 20)
    values = np.asarray(fig.axes[0].collections[0].get_array())
    np.testing.assert_allclose(np.sort(values), np.sort(np.linalg.norm(C[:, :, 20], axis=1)))
    with pytest.raises(ValueError, match="feature: no feature named"):
        plot_feature_contribution(fitted.embedding_, C, "nope", feature_names=names)
    with pytest.raises(ValueError, match="component: must be in"):
        plot_feature_contribution(fitted.embedding_, C, 3, component=2)
    with pytest.raises(ValueError, match="contributions: has 10 samples"):
        plot_feature_contribution(fitted.embedding_, C[:10], 3)


def test_plot_top_features(fitted, digits):
    from glass_box_umap import explain_groups

    X, y = digits
    C = fitted.compute_contributions(X)
    names = [f"pixel{j}" for j in range(64)]
    fig = plot_top_features(C, y, k=5, feature_names=names)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 10
    table = explain_groups(C, y, names)
    expected = table[(table["group"] == 3) & (table["rank"] <= 5)]["feature"].tolist()
    assert [t.get_text() for t in panels[3].get_yticklabels()] == expected
    widths = sorted(p.get_width() for p in panels[3].patches)
    top3 = table[(table["group"] == 3) & (table["rank"] <= 5)]
    np.testing.assert_allclose(
        widths, sorted([*top3["mean_component0"], *top3["mean_component1"]]), rtol=1e-6
    )


def test_plot_loss_accepts_history(fitted):
    fig = plot_loss(fitted.history_)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), fitted.history_["loss"])
    with pytest.raises(ValueError, match="history: expected"):
        plot_loss({"x": [1]})


def test_live_view_redraws_one_notebook_output_in_place(digits, monkeypatch):
    import IPython
    import IPython.display

    shown, updates = [], []

    class Handle:
        def update(self, fig):
            updates.append(fig)

    def display(fig, display_id=None):
        assert display_id is True  # a handle, so that later figures replace this one
        shown.append(fig)
        return Handle()

    class Kernel:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Kernel())
    monkeypatch.setattr(IPython.display, "display", display)
    X, y = digits
    snaps = EmbeddingSnapshots(X, every_n_epochs=2, labels=y, n_samples=100, live=True)
    GlassBoxUMAP(random_state=0, extra_callbacks=[snaps], **{**FAST, "epochs": 4}).fit(X)
    assert snaps.epochs_ == [0, 2, 4]
    assert len(shown) == 1 and len(updates) == 2  # one output area, redrawn twice
    last = updates[-1]
    assert last.axes[0].get_title() == "epoch 4"
    assert len(last.axes[1].get_lines()) >= 1  # the loss curve so far
    assert snaps._display is None  # nothing held after fit
    assert plt.get_fignums() == []  # not pyplot figures: a notebook would show them twice


def test_live_view_outside_a_notebook_warns_and_records(monkeypatch):
    import IPython

    from glass_box_umap.callbacks import _notebook_display

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    with pytest.warns(UserWarning, match="live: needs a Jupyter notebook"):
        assert _notebook_display() is None
    with pytest.raises(TypeError, match="live"):
        EmbeddingSnapshots(np.ones((20, 3)), live="yes")
