import copy
import inspect
import pickle
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch import Callback

from glass_box_umap import GlassBoxUMAP, training
from glass_box_umap.affinity import EdgeList
from glass_box_umap.normalisation import fold_batch_rms

from .conftest import FAST

EXPECTED_DEFAULTS = dict(
    n_neighbors=15,
    min_dist=0.1,
    metric="euclidean",
    n_components=2,
    negative_sample_rate=5,
    repulsion_strength=1.0,
    pca_components=None,
    encoder_name="default",
    encoder_kwargs={},
    lr=1e-3,
    epochs=200,
    batch_size=10_000,
    num_batches=None,
    num_workers=0,
    checkpoint_dir=None,
    restore_best_weights=True,
    random_state=None,
    quiet=False,
    extra_callbacks=[],
    target_weight=0.5,
    knn_method="auto",
    trainer_kwargs=None,
    encoder=None,
    input_noise=0.0,
    neighbour_noise=0.5,
    across_noise="auto",
    noise_free_fraction=0.1,
    metric_kwds=None,
    spread=1.0,
    local_connectivity=1.0,
    set_op_mix_ratio=1.0,
    disconnection_distance=None,
    precomputed_knn=None,
    warm_start=False,
    landmark_weight=1.0,
)


def test_constructor_is_keyword_only_with_documented_defaults():
    params = inspect.signature(GlassBoxUMAP).parameters
    assert list(params) == list(EXPECTED_DEFAULTS)
    assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
    assert {k: p.default for k, p in params.items()} == EXPECTED_DEFAULTS
    with pytest.raises(TypeError):
        GlassBoxUMAP(15)
    reducer = GlassBoxUMAP(n_neighbors=25)
    reducer.n_neighbors = 20
    assert reducer.get_params()["n_neighbors"] == 20


def test_attribute_set_after_construction_takes_effect(digits):
    X, _ = digits
    reducer = GlassBoxUMAP(n_neighbors=5, random_state=0, **FAST)
    reducer.epochs = 2
    reducer.n_components = 3
    reducer.encoder_kwargs = {"hidden_size": 16, "n_hidden_layers": 1}
    emb = reducer.fit_transform(X)
    assert emb.shape == (len(X), 3)
    assert len(reducer.history_["loss"]) == 2
    assert reducer.encoder_.net[0].weight.shape == (16, 64)
    degree_5 = len(reducer.graph_.head)
    reducer.n_neighbors = 20
    reducer.fit(X)
    assert len(reducer.graph_.head) > 1.5 * degree_5


def test_fit_transform_shapes_and_attributes(fitted, digits):
    X, _ = digits
    emb = fitted.embedding_
    assert emb.shape == (len(X), 2) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    assert fitted.n_features_in_ == 64
    assert isinstance(fitted.graph_, EdgeList)
    assert fitted.mean_.shape == (64,)
    np.testing.assert_allclose(fitted.mean_, X.mean(0), rtol=1e-6)
    assert fitted.a_ == pytest.approx(1.577, abs=1e-3) and fitted.b_ == pytest.approx(0.895, 1e-3)
    np.testing.assert_array_equal(fitted.transform(X), emb)
    assert set(fitted.history_) == {
        "epoch",
        "loss",
        "attraction",
        "repulsion",
        "edges_per_s",
        "time",
        "lr",
    }
    assert all(len(v) == FAST["epochs"] for v in fitted.history_.values())


def test_embedding_is_informative(fitted, digits):
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    X, y = digits
    acc = cross_val_score(KNeighborsClassifier(10), fitted.embedding_, y, cv=5).mean()
    assert acc > 0.6  # chance is 0.1; a short fit on 400 points


def test_transform_accepts_torch_float64_and_is_batch_invariant(fitted, digits):
    X, _ = digits
    emb = fitted.transform(X)
    np.testing.assert_array_equal(fitted.transform(torch.from_numpy(X)), emb)
    np.testing.assert_array_equal(fitted.transform(X.astype(np.float64)), emb)
    idx = np.random.default_rng(0).permutation(len(X))
    for size in [*range(1, 20), 37, 255]:
        np.testing.assert_array_equal(fitted.transform(X[idx[:size]]), emb[idx[:size]])
        C = fitted.compute_contributions(X[idx[:size]])
        np.testing.assert_array_equal(C, fitted.compute_contributions(X)[idx[:size]])


def test_contributions_sum_to_embedding(fitted, digits):
    X, _ = digits
    emb = fitted.transform(X)
    C = fitted.compute_contributions(X)
    assert C.shape == (len(X), 2, 64) and C.dtype == np.float32
    assert np.abs(C.sum(-1) - emb).max() <= 1e-5 * np.abs(emb).max()


def test_contributions_float64_are_exact(fitted, digits):
    X, _ = digits
    C = fitted.compute_contributions(X, dtype="float64")
    assert C.dtype == np.float64
    with torch.no_grad():
        model64 = fitted.map_.double()
        out = model64(torch.from_numpy(X.astype(np.float64) - fitted.mean_)).numpy()
        fitted.map_.float()
    assert np.abs(C.sum(-1) - out).max() <= 1e-12 * np.abs(out).max()
    assert np.abs(out - fitted.transform(X)).max() < 1e-4 * np.abs(out).max()


def test_contributions_in_original_features_with_pca(fitted_pca, digits):
    X, _ = digits
    assert fitted_pca.pca_components_.shape == (10, 64)
    emb = fitted_pca.transform(X)
    C = fitted_pca.compute_contributions(X)
    assert C.shape == (len(X), 2, 64)
    assert np.abs(C.sum(-1) - emb).max() <= 1e-5 * np.abs(emb).max()
    C64 = fitted_pca.compute_contributions(X, dtype="float64")
    assert np.abs(C64.sum(-1) - emb).max() <= 1e-4 * np.abs(emb).max()


def test_l2_reduction(fitted, digits):
    X, _ = digits
    C = fitted.compute_contributions(X[:50])
    L2 = fitted.compute_contributions(X[:50], reduction="l2")
    assert L2.shape == (50, 64)
    np.testing.assert_allclose(L2, np.sqrt((C**2).sum(1)), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="reduction"):
        fitted.compute_contributions(X, reduction="l1")


def test_mean_sample_lands_at_origin_and_contributions_explain_offset(fitted, digits):
    X, _ = digits
    origin = fitted.transform(fitted.mean_[None])
    np.testing.assert_array_equal(origin, np.zeros((1, 2), np.float32))
    C = fitted.compute_contributions(X[:5])
    # Features equal to the training mean contribute nothing.
    x = X[:1].astype(np.float64)
    x[0, :32] = fitted.mean_[:32]
    assert np.all(fitted.compute_contributions(x)[0, :, :32] == 0)
    assert np.any(C[:, :, :32] != 0)


def test_same_seed_is_bit_identical_and_seeds_differ(digits):
    X, _ = digits
    kw = dict(FAST, epochs=3)
    a = GlassBoxUMAP(random_state=7, **kw).fit_transform(X)
    b = GlassBoxUMAP(random_state=7, **kw).fit_transform(X)
    c = GlassBoxUMAP(random_state=8, **kw).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_fit_leaves_global_rng_untouched(digits):
    X, _ = digits
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    GlassBoxUMAP(random_state=3, **dict(FAST, epochs=2)).fit(X)
    GlassBoxUMAP(random_state=None, **dict(FAST, epochs=2)).fit(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()


def test_quiet_prints_nothing(digits, capfd):
    X, _ = digits
    GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2)).fit(X)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_bar_when_not_quiet(digits, capfd, monkeypatch):
    X, _ = digits
    monkeypatch.setattr(training, "_watched", lambda: True)  # as in a terminal
    GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2, quiet=False)).fit(X)
    out, err = capfd.readouterr()
    assert "Epoch 1" in out + err
    assert "loss=" in out + err
    assert "\r" in out + err  # a live bar redraws its line
    assert "glass_box_umap-" not in out + err


def test_progress_in_a_log_is_one_line_per_tenth_of_the_fit(digits, capfd):
    # Output captured by pytest is not a terminal, like a job's log file.
    X, _ = digits
    GlassBoxUMAP(random_state=0, **dict(FAST, epochs=25, quiet=False)).fit(X)
    out, err = capfd.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("Epoch ")]
    # After epoch 0, every 2nd epoch (25 // 10), and the last: 0, 1, 3, ..., 23, 24.
    assert [int(line.split()[1].split("/")[0]) for line in lines] == [0, *range(1, 25, 2), 24]
    assert all(line.split()[1].endswith("/24:") and "loss=" in line for line in lines)
    assert "\r" not in out + err


def test_checkpoint_dir_holds_checkpoints_and_tensorboard(digits, tmp_path):
    X, _ = digits
    GlassBoxUMAP(random_state=0, checkpoint_dir=tmp_path, **FAST).fit(X)
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and any(n.startswith("best-") for n in ckpts)
    events = list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert len(acc.Scalars("loss")) == FAST["epochs"]


def test_temporary_checkpoint_dir_is_removed(digits, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    X, _ = digits
    GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2)).fit(X)
    assert list(tmp_path.iterdir()) == []


class _ForcedLoss(pl.Callback):
    """Replaces each epoch's logged loss with ``curve[epoch]`` and keeps each epoch's weights.

    A plain (non-monitoring) callback's ``on_train_epoch_end`` runs before the module's and
    before the best-weights checkpoint, so both see the forced value; the weights saved
    are the ones the encoder holds when the epoch's loss is judged.
    """

    def __init__(self, curve: list[float]) -> None:
        self.curve = curve
        self.weights: list[dict[str, torch.Tensor]] = []
        self.networks: list[torch.nn.Module] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        pl_module.log("loss", self.curve[trainer.current_epoch], on_epoch=True, batch_size=1)
        # The training network (with its batch-RMS layers); fit folds the kept one.
        self.weights.append(copy.deepcopy(pl_module.encoder).state_dict())
        self.networks.append(copy.deepcopy(pl_module.encoder))


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_puts_back_that_epochs_weights_bit_for_bit(digits, restore):
    """The lowest loss is at epoch 2 of 6 whatever the training does, so restoring must
    change the weights; how many steps an epoch takes does not matter."""
    X, _ = digits
    curve = [5.0, 4.0, 1.0, 3.0, 2.0, 6.0]
    forced = _ForcedLoss(curve)
    reducer = GlassBoxUMAP(
        random_state=0,
        restore_best_weights=restore,
        extra_callbacks=[forced],
        **dict(FAST, epochs=len(curve), num_batches=2),
    ).fit(X)
    assert reducer.history_["loss"] == curve
    assert len(forced.weights) == len(curve)
    # Training moved the weights between the best and the last epoch.
    assert any(not torch.equal(forced.weights[2][k], v) for k, v in forced.weights[-1].items())
    kept = 2 if restore else len(curve) - 1
    assert reducer.best_epoch_ == (2 if restore else None)
    final = reducer.encoder_.state_dict()
    shipped = forced.networks[kept]
    fold_batch_rms(shipped)
    assert final.keys() == shipped.state_dict().keys()
    for name, value in shipped.state_dict().items():
        assert torch.equal(final[name], value), name
    with torch.no_grad():
        x = torch.as_tensor((X - reducer.mean_) / reducer.input_scale_, dtype=torch.float32)
        expected = reducer.encoder_(x)
    np.testing.assert_array_equal(reducer.embedding_, reducer.transform(X))
    np.testing.assert_allclose(reducer.embedding_, expected.numpy(), rtol=1e-5, atol=1e-6)


class _StepsPerEpoch(Callback):
    """Records the optimiser steps taken by the end of each epoch."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_train_epoch_end(self, trainer, *args) -> None:
        self.steps.append(trainer.global_step)


@pytest.mark.parametrize(
    ("batch_size", "num_batches", "per_epoch"),
    [(10_000, None, 12), (3_000, None, 40), (120_000, None, 1), (10_000, 2, 2), (500, 7, 7)],
)
def test_epoch_steps_do_not_depend_on_the_data(digits, batch_size, num_batches, per_epoch):
    # An epoch is ceil(EPOCH_EDGES / batch_size) steps, or num_batches when given,
    # on 300 points as on 1,797: the budget follows the settings, not n.
    X, _ = digits
    assert training.EPOCH_EDGES == 120_000
    for n in (300, len(X)):
        count = _StepsPerEpoch()
        kw = dict(FAST, epochs=3, batch_size=batch_size, num_batches=num_batches)
        GlassBoxUMAP(random_state=0, extra_callbacks=[count], **kw).fit(X[:n])
        assert count.steps == [per_epoch, 2 * per_epoch, 3 * per_epoch]


def test_larger_data_draw_as_many_edges_per_epoch(digits):
    # No line at 10,000 samples any more: medium data need the 2,400 steps too.
    assert training.steps_per_epoch(10_000, None) == 12
    assert training.steps_per_epoch(3_000, None) == 40
    assert training.steps_per_epoch(10_000, 7) == 7
    assert not hasattr(training, "SMALL_DATA") and not hasattr(training, "LARGE_EPOCH_EDGES")
    X, _ = digits
    rng = np.random.default_rng(0)
    large = np.resize(X, (10_001, X.shape[1])) + rng.normal(0.0, 0.1, (10_001, X.shape[1]))
    count = _StepsPerEpoch()
    kw = dict(FAST, epochs=1, batch_size=10_000, num_batches=None)
    GlassBoxUMAP(random_state=0, extra_callbacks=[count], **kw).fit(large)
    assert count.steps == [12]


def test_save_load_roundtrip_is_bit_identical(fitted_pca, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "model.safetensors"
    fitted_pca.save(path)
    loaded = GlassBoxUMAP.load(path)
    np.testing.assert_array_equal(loaded.transform(X), fitted_pca.transform(X))
    np.testing.assert_array_equal(
        loaded.compute_contributions(X), fitted_pca.compute_contributions(X)
    )
    np.testing.assert_array_equal(loaded.embedding_, fitted_pca.embedding_)
    assert loaded.get_params() == fitted_pca.get_params()
    assert loaded.history_ == fitted_pca.history_
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_model_file_is_data_only(fitted, tmp_path):
    import json

    from safetensors import safe_open

    path = tmp_path / "m.safetensors"
    fitted.save(path)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
        keys = set(f.keys())
    assert meta["format"] == "glass_box_umap" and meta["package_version"]
    assert meta["params"]["n_neighbors"] == 15
    assert {"mean", "embedding"} <= keys
    assert any(k.startswith("encoder.") for k in keys)


def test_load_rejects_pickle_and_newer_format(fitted, tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    marker = tmp_path / "pwned"

    class Payload:
        """Creates ``marker`` when unpickled: what a malicious model file would run."""

        def __reduce__(self):
            return (open, (str(marker), "w"))

    pickled = tmp_path / "evil-pickle.safetensors"
    pickled.write_bytes(pickle.dumps({"encoder.net.0.weight": Payload()}))
    zipped = tmp_path / "evil-torch.safetensors"
    torch.save({"encoder.net.0.weight": Payload()}, zipped)
    for evil, unpickle in (
        (pickled, lambda f: pickle.load(f)),
        (zipped, lambda f: torch.load(f, weights_only=False)),
    ):
        # The payload is live: a loader that unpickles runs it ...
        with open(evil, "rb") as f:
            unpickle(f)
        assert marker.exists()
        marker.unlink()
        # ... ours refuses the file without running it.
        with pytest.raises(ValueError, match="not a glass_box_umap model file"):
            GlassBoxUMAP.load(evil)
        assert not marker.exists()

    good = tmp_path / "good.safetensors"
    fitted.save(good)
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
    meta["format_version"] = 99
    newer = tmp_path / "newer.safetensors"
    save_file(load_file(good), newer, metadata={"glass_box_umap": json.dumps(meta)})
    with pytest.raises(ValueError, match="format 99"):
        GlassBoxUMAP.load(newer)
    with pytest.raises(FileNotFoundError, match="path"):
        GlassBoxUMAP.load(Path(tmp_path / "missing.safetensors"))


@pytest.mark.parametrize(
    ("tensor", "value"),
    [
        ("encoder.net.0.weight", float("nan")),
        ("encoder.net.2.weight", float("inf")),
        ("mean", float("-inf")),
    ],
)
def test_load_refuses_non_finite_numbers_naming_the_tensor(fitted, tmp_path, tensor, value):
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    good = tmp_path / "good.safetensors"
    fitted.save(good)
    with safe_open(str(good), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(good)
    assert tensor in tensors and json.loads(metadata["glass_box_umap"])
    tensors[tensor].view(-1)[3] = value
    broken = tmp_path / "broken.safetensors"
    save_file(tensors, broken, metadata=metadata)
    with pytest.raises(ValueError, match=f"1 NaN or infinite value.* in tensor '{tensor}'"):
        GlassBoxUMAP.load(broken)
    np.testing.assert_array_equal(GlassBoxUMAP.load(good).embedding_, fitted.embedding_)


BAD_PARAMS = [
    ("n_neighbors", 1, ValueError),
    ("n_neighbors", 2.5, TypeError),
    ("min_dist", -0.1, ValueError),
    ("min_dist", float("nan"), ValueError),
    ("metric", "hamming_distance", ValueError),
    ("n_components", 0, ValueError),
    ("negative_sample_rate", 0, ValueError),
    ("repulsion_strength", -1.0, ValueError),
    ("pca_components", 0, ValueError),
    ("pca_components", 65, ValueError),
    ("encoder_name", "nope", ValueError),
    ("encoder_kwargs", {"width": 3}, TypeError),
    ("encoder_kwargs", {"hidden_size": 0}, ValueError),
    ("lr", 0.0, ValueError),
    ("lr", float("inf"), ValueError),
    ("epochs", 0, ValueError),
    ("batch_size", 0, ValueError),
    ("num_batches", 0, ValueError),
    ("num_workers", -1, ValueError),
    ("random_state", -1, ValueError),
    ("random_state", "0", TypeError),
    ("quiet", "yes", TypeError),
    ("extra_callbacks", [object()], TypeError),
]


@pytest.mark.parametrize(("name", "value", "error"), BAD_PARAMS)
def test_bad_parameters_are_named(digits, name, value, error):
    X, _ = digits
    with pytest.raises(error, match=name):
        GlassBoxUMAP(**{name: value}, quiet=True).fit(X[:100])


def test_transform_checks(fitted, digits):
    X, _ = digits
    with pytest.raises(ValueError, match="not fitted"):
        GlassBoxUMAP().transform(X)
    with pytest.raises(ValueError, match="not fitted"):
        GlassBoxUMAP().compute_contributions(X)
    with pytest.raises(ValueError, match="X has 63 features, but GlassBoxUMAP is expecting 64"):
        fitted.transform(X[:, :63])
    with pytest.raises(ValueError, match="dtype"):
        fitted.compute_contributions(X, dtype="float16")


def test_failed_refit_keeps_previous_model(digits):
    X, _ = digits
    reducer = GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2)).fit(X)
    before = reducer.transform(X)
    reducer.n_neighbors = 10_000
    with pytest.raises(ValueError, match="n_neighbors"):
        reducer.fit(X)
    np.testing.assert_array_equal(reducer.transform(X), before)


def test_integer_input_fits_like_the_same_values_as_floats(digits):
    X, _ = digits
    Xi = X.astype(np.int64)
    kw = dict(FAST, epochs=2)
    from_int = GlassBoxUMAP(random_state=0, **kw).fit(Xi)
    from_float = GlassBoxUMAP(random_state=0, **kw).fit(Xi.astype(np.float64))
    assert from_int.embedding_.shape == (len(X), 2)
    np.testing.assert_array_equal(from_int.embedding_, from_float.embedding_)
    np.testing.assert_array_equal(from_int.mean_, Xi.mean(axis=0))
    np.testing.assert_array_equal(from_int.transform(Xi[:50]), from_float.transform(Xi[:50] * 1.0))
    np.testing.assert_array_equal(
        from_int.compute_contributions(Xi[:50]), from_float.compute_contributions(Xi[:50] * 1.0)
    )


def test_parameters_checked_before_graph_is_built(digits, monkeypatch):
    from glass_box_umap import fitting

    def fail(*args, **kwargs):
        raise AssertionError("graph built before parameters were checked")

    monkeypatch.setattr(fitting, "build_graph", fail)
    X, _ = digits
    with pytest.raises(ValueError, match="encoder_kwargs"):
        GlassBoxUMAP(encoder_kwargs={"n_hidden_layers": -1}, quiet=True).fit(X)
    with pytest.raises(ValueError, match="pca_components"):
        GlassBoxUMAP(pca_components=100, quiet=True).fit(X)
