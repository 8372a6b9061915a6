"""Numerical robustness and interrupted or diverging training."""

import lightning.pytorch as pl
import numpy as np
import pytest

from glass_box_umap import GlassBoxUMAP

from .conftest import FAST


class InterruptAt(pl.Callback):
    """Raises KeyboardInterrupt in the middle of epoch ``epoch`` (as Ctrl-C would)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 0:
            raise KeyboardInterrupt


def test_interrupted_fit_keeps_best_weights_and_refits(digits):
    X, _ = digits
    params = dict(FAST, epochs=6, batch_size=256)
    reducer = GlassBoxUMAP(random_state=0, extra_callbacks=[InterruptAt(3)], **params)
    with pytest.warns(RuntimeWarning, match="fit interrupted after 3 of 6 epochs"):
        reducer.fit(X)
    assert reducer.interrupted_
    assert len(reducer.history_["loss"]) == 3
    assert reducer.best_epoch_ == int(np.argmin(reducer.history_["loss"]))
    emb = reducer.transform(X)
    assert np.isfinite(emb).all() and emb.std() > 0
    C = reducer.compute_contributions(X)
    np.testing.assert_allclose(C.sum(-1), emb, atol=1e-5 * np.abs(emb).max())
    # the weights are the best epoch's, the same as an uninterrupted 3-epoch run's best
    reference = GlassBoxUMAP(random_state=0, **dict(params, epochs=3)).fit(X)
    if reference.best_epoch_ == reducer.best_epoch_:
        np.testing.assert_array_equal(reference.transform(X), emb)
    # a second fit works and runs to the end
    reducer.extra_callbacks = []
    reducer.fit(X)
    assert not reducer.interrupted_ and len(reducer.history_["loss"]) == 6


def test_divergence_stops_with_a_clear_error(digits):
    X, _ = digits
    previous = GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2)).fit(X)
    before = previous.transform(X)
    previous.set_params(lr=1e30, epochs=20)
    with pytest.raises(FloatingPointError, match="try a lower lr"):
        previous.fit(X * 1e6)
    np.testing.assert_array_equal(previous.transform(X), before)


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda X: X * 1e12, id="huge scale"),
        pytest.param(lambda X: X * 1e-12, id="tiny scale"),
        pytest.param(lambda X: X * np.logspace(-8, 8, X.shape[1]), id="mixed scales"),
        pytest.param(lambda X: np.hstack([X, np.full((len(X), 5), 7.0)]), id="constant columns"),
        pytest.param(lambda X: np.vstack([X, X[: len(X) // 4]]), id="20% duplicate rows"),
    ],
)
def test_hard_data_trains_without_nan(wine, transform):
    X, _ = wine
    X = transform(X)
    reducer = GlassBoxUMAP(random_state=0, **FAST)
    emb = reducer.fit_transform(X)
    assert np.isfinite(emb).all() and emb.std() > 0
    assert np.isfinite(reducer.history_["loss"]).all()
    C = reducer.compute_contributions(X, dtype="float64")
    assert np.isfinite(C).all()
    scale = np.abs(emb).max()
    np.testing.assert_allclose(C.sum(-1), emb, atol=1e-5 * scale)
