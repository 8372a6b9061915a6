"""Large-data paths on small data: kNN method choice, bounded-memory blocks, trainer
arguments, mixed precision, and the graph-replay machinery's fallback to eager steps."""

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.manifold import trustworthiness

from glass_box_umap import GlassBoxUMAP, affinity, training
from glass_box_umap import nearest_neighbors as neighbours
from glass_box_umap.affinity import fuzzy_simplicial_set, smooth_knn_dist
from glass_box_umap.nearest_neighbors import (
    _refine,
    exact_knn,
    faiss_knn,
    nearest_neighbors,
    resolve_knn_method,
)
from glass_box_umap.training import _StepCounter, check_trainer_kwargs

from .conftest import FAST, forward64, require_module


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return load_digits().data[:500].astype(np.float32)


def _recall(a: np.ndarray, b: np.ndarray) -> float:
    k = a.shape[1]
    return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b, strict=True)]))


# ---------------------------------------------------------------- nearest neighbours
def test_auto_knn_method():
    small, large = neighbours.EXACT_KNN_MAX_SAMPLES, neighbours.EXACT_KNN_MAX_SAMPLES + 1
    assert resolve_knn_method("auto", small, "euclidean", None) == "exact"
    assert resolve_knn_method("auto", large, "euclidean", "cuda") == "exact"
    assert resolve_knn_method("auto", large, "cosine", "cpu") == "pynndescent"
    assert resolve_knn_method("faiss", small, "euclidean", None) == "faiss"
    with pytest.raises(ValueError, match="knn_method"):
        resolve_knn_method("annoy", small, "euclidean", None)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
def test_exact_knn_blocks_bound_memory_without_changing_results(X, metric, monkeypatch):
    full_idx, full_dist = exact_knn(X, 15, metric, block_size=len(X))
    # A budget of 64 rows x 500 scores: the default block size must follow it.
    monkeypatch.setattr(neighbours, "EXACT_KNN_BLOCK_BYTES", 64 * len(X) * 4)
    assert neighbours._block_rows(len(X), torch.device("cpu")) == 64
    idx, dist = exact_knn(X, 15, metric)
    np.testing.assert_array_equal(idx, full_idx)
    np.testing.assert_array_equal(dist, full_dist)


def test_refine_puts_self_first_and_fills_missing_candidates():
    Xt = torch.tensor([[0.0], [1.0], [3.0], [0.0]])
    # Row 0 has a missing (-1) candidate, row 1 is unsorted, row 2 lacks itself.
    cand = torch.tensor([[3, 1, -1], [2, 1, 0], [0, 1, 3]])
    idx, dist = _refine(Xt, cand, 0, "euclidean")
    # Self first even before its duplicate (point 3); a missing candidate becomes self.
    np.testing.assert_array_equal(idx.numpy(), [[0, 3, 1], [1, 0, 2], [2, 1, 0]])
    np.testing.assert_allclose(dist.numpy(), [[0, 0, 1], [0, 1, 2], [0, 2, 3]])
    idx, dist = _refine(Xt, torch.tensor([[0, 1, -1]]), 0, "euclidean")
    np.testing.assert_array_equal(idx.numpy(), [[0, 0, 1]])
    # The padded self loop carries no weight in the graph.
    g = fuzzy_simplicial_set(idx.numpy(), dist.numpy(), n_vertices=4)
    assert g.diagonal().sum() == 0


def test_smooth_knn_dist_in_chunks_is_the_same(X, monkeypatch):
    _, dist = exact_knn(X, 15)
    whole = smooth_knn_dist(dist, 15.0)
    monkeypatch.setattr(affinity, "_SMOOTH_K_CHUNK", 7)
    chunked = smooth_knn_dist(dist, 15.0)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)


def test_faiss_flat_is_exact_and_hnsw_finds_nearly_all(X, monkeypatch):
    require_module("faiss")
    exact_idx, exact_dist = exact_knn(X, 15)
    idx, dist = faiss_knn(X, 15, "euclidean")
    # Digits have many tied distances, which the two searches may break differently.
    assert _recall(idx, exact_idx) > 0.99
    np.testing.assert_allclose(dist, exact_dist, atol=1e-4)
    monkeypatch.setattr(neighbours, "EXACT_KNN_MAX_SAMPLES", 100)
    idx, dist = nearest_neighbors(X, 15, knn_method="faiss")
    assert _recall(idx, exact_idx) > 0.95
    assert (idx[:, 0] == np.arange(len(X))).all()
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_faiss_is_named_when_missing_or_unsuitable(X, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("no faiss here")
        return real_import(name, *args, **kwargs)

    with pytest.raises(ValueError, match="knn_method"):
        GlassBoxUMAP(knn_method="faiss", metric="manhattan", quiet=True).fit(X)
    monkeypatch.setattr(builtins, "__import__", no_faiss)
    with pytest.raises(ImportError, match="knn_method: 'faiss' needs"):
        faiss_knn(X, 15, "euclidean")


# ---------------------------------------------------------------- trainer arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_epochs": 3}, ValueError, "max_epochs.*epochs"),
        ({"callbacks": []}, ValueError, "callbacks.*extra_callbacks"),
        ({"enable_progress_bar": False}, ValueError, "quiet"),
        ({"default_root_dir": "x"}, ValueError, "checkpoint_dir"),
        ({"gradient_clip_val": 1.0}, ValueError, "gradient_clip_val"),
        ({"precision": "bf16-true"}, ValueError, "precision 'bf16-true' is not supported"),
        ({"devicez": 2}, ValueError, "'devicez' is not an argument"),
        ({1: 2}, TypeError, "keys must be strings"),
        (["devices", 2], TypeError, "expected a dict"),
    ],
)
def test_trainer_kwargs_conflicts_are_named(X, kwargs, error, match):
    with pytest.raises(error, match=f"trainer_kwargs: .*{match}"):
        GlassBoxUMAP(trainer_kwargs=kwargs, quiet=True).fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accelerator": "gpu"}, "No supported gpu backend"),
        ({"strategy": "nonsense"}, "invalid strategy name"),
    ],
)
def test_trainer_kwargs_lightning_refuses_are_named_before_the_graph(X, kwargs, match, monkeypatch):
    import glass_box_umap.fitting as fitting

    def no_graph(*args, **kw):
        raise AssertionError("the graph was built before trainer_kwargs were checked")

    monkeypatch.setattr(fitting, "build_graph", no_graph)
    with pytest.raises(
        ValueError, match=f"trainer_kwargs: lightning.pytorch.Trainer refuses.*{match}"
    ):
        GlassBoxUMAP(trainer_kwargs=kwargs, quiet=True).fit(X)


def test_trainer_kwargs_pass_through():
    assert check_trainer_kwargs(None) == {}
    ok = {"accelerator": "cpu", "devices": 1, "precision": "bf16-mixed", "deterministic": True}
    assert check_trainer_kwargs(ok) == ok


def test_bf16_mixed_training_keeps_exact_float_contributions(X, tmp_path):
    kw = dict(FAST, trainer_kwargs={"accelerator": "cpu", "precision": "bf16-mixed"})
    reducer = GlassBoxUMAP(random_state=0, **kw).fit(X)
    reference = GlassBoxUMAP(random_state=0, **dict(FAST, epochs=FAST["epochs"])).fit(X)
    assert not np.array_equal(reducer.embedding_, reference.embedding_)
    t_bf16 = trustworthiness(X, reducer.embedding_, n_neighbors=10)
    t_fp32 = trustworthiness(X, reference.embedding_, n_neighbors=10)
    assert t_bf16 > t_fp32 - 0.03
    assert all(v.dtype == torch.float32 for v in reducer.encoder_.state_dict().values())
    # The float64 promise holds for a bf16-trained model as for any other: contributions
    # sum to an independent float64 forward pass to ~1e-12, and float32 ones to transform.
    contrib = reducer.compute_contributions(X[:50], dtype="float64")
    assert contrib.dtype == np.float64
    emb64 = forward64(reducer, X[:50])
    scale = np.abs(emb64).max()
    assert np.abs(contrib.sum(axis=2) - emb64).max() <= 1e-12 * scale
    contrib32 = reducer.compute_contributions(X[:50])
    assert contrib32.dtype == np.float32
    emb32 = reducer.transform(X[:50])
    assert np.abs(contrib32.sum(axis=2) - emb32).max() <= 1e-5 * scale
    assert np.abs(emb32 - emb64).max() <= 1e-5 * scale

    path = tmp_path / "bf16.safetensors"
    reducer.save(path)
    assert GlassBoxUMAP.load(path).trainer_kwargs == kw["trainer_kwargs"]


def test_unserialisable_trainer_kwargs_are_left_out_of_the_file(fitted, tmp_path):
    from lightning.pytorch.strategies import SingleDeviceStrategy

    path = tmp_path / "m.safetensors"
    saved = fitted.trainer_kwargs  # the fixture is shared: put it back afterwards
    try:
        fitted.trainer_kwargs = {"strategy": SingleDeviceStrategy("cpu"), "devices": 1}
        with pytest.warns(UserWarning, match=r"trainer_kwargs: \['strategy'\]"):
            fitted.save(path)
    finally:
        fitted.trainer_kwargs = saved
    assert GlassBoxUMAP.load(path).trainer_kwargs == {"devices": 1}


# ---------------------------------------------------------------- steps and graph replay
def test_step_counter_groups_steps_into_batches():
    assert _StepCounter(10, 4).sizes == [4, 4, 2]
    assert list(_StepCounter(3)) == [1, 1, 1]
    assert len(_StepCounter(32, 16)) == 2


def test_cuda_graphs_requested_on_cpu_warn_and_train_eagerly(X, monkeypatch):
    reducer = GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2))
    eager = reducer.fit(X).embedding_
    monkeypatch.setattr(training, "USE_CUDA_GRAPHS", True)
    created = []
    original = training.UMAPModule.__init__

    def with_graphs(self, *args, config, **kwargs):
        original(self, *args, config=dataclasses.replace(config, cuda_graphs=True), **kwargs)
        created.append(self)

    monkeypatch.setattr(training.UMAPModule, "__init__", with_graphs)
    with pytest.warns(RuntimeWarning, match="cuda_graphs: not used, training runs on cpu"):
        GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2, quiet=False)).fit(X)
    assert not created[0].graphed
    np.testing.assert_array_equal(
        GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2)).fit(X).embedding_, eager
    )


def test_failed_capture_falls_back_to_identical_eager_steps(X, monkeypatch):
    """Pretend the CPU can replay graphs: warm-up runs eagerly, capture fails (no CUDA in
    this build or no device), and training goes on eagerly, 16 steps per Lightning batch,
    with exactly the updates of ordinary eager training."""
    kw = dict(FAST, epochs=3, batch_size=256, num_batches=20)
    eager = GlassBoxUMAP(random_state=0, **kw).fit(X)
    monkeypatch.setattr(training.UMAPModule, "_use_graphs", lambda self: True)
    monkeypatch.setattr(training.UMAPModule, "_warmup_step", training.UMAPModule._eager_step)
    batches = []

    class Count(training.pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            batches.append(int(batch))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # quiet=False: a quiet fit silences every warning, this one included.
        replayed = GlassBoxUMAP(
            random_state=0, extra_callbacks=[Count()], **dict(kw, quiet=False)
        ).fit(X)
    messages = [str(w.message) for w in caught if "CUDA graph capture failed" in str(w.message)]
    assert len(messages) == 1
    steps = training.steps_per_epoch(kw["batch_size"], kw["num_batches"])
    assert steps > 16 and sum(batches) == kw["epochs"] * steps
    assert max(batches) == 16
    assert replayed.history_["loss"] == eager.history_["loss"]
    np.testing.assert_array_equal(replayed.embedding_, eager.embedding_)


def test_history_travels_in_the_module_state_dict():
    config = training.TrainingConfig(a=1.0, b=1.0, seed=0, steps_per_epoch=1, batch_size=4)
    module = training.UMAPModule(
        torch.nn.Linear(2, 2, bias=False), torch.zeros(3, 2), None, config=config
    )
    module.history["loss"] = [3.0, 2.0]
    module.best_epoch = 1
    state = module.state_dict()
    other = training.UMAPModule(
        torch.nn.Linear(2, 2, bias=False), torch.zeros(3, 2), None, config=config
    )
    other.load_state_dict(state)
    assert other.history["loss"] == [3.0, 2.0] and other.best_epoch == 1
    json.dumps(other.history)
