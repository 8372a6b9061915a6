"""The GPU path: CUDA-graph replay, its fallback, bf16 training, contributions on the device.

Marked ``gpu`` and left out of the default run; ``make test-gpu`` runs them, and they
skip on a machine without CUDA. The rest of the suite is pinned to the CPU
(tests/conftest.py); every test here undoes that with the ``use_cuda`` fixture and asks
for the GPU explicitly.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from sklearn.manifold import trustworthiness

from glass_box_umap import GlassBoxUMAP, training
from glass_box_umap.attribution import contributions

from .conftest import CUDA_AVAILABLE, forward64

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not CUDA_AVAILABLE, reason="needs a CUDA device"),
]

GPU = {"accelerator": "gpu", "devices": 1}
#: 5 epochs of 10 steps: the 50 steps replay is compared over, whatever an epoch's size.
STEPS = dict(epochs=5, num_batches=10, batch_size=1024, quiet=False)


class _Steps(training.pl.Callback):
    """Records the optimiser steps taken by the end of each epoch."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_train_epoch_end(self, trainer, *args) -> None:
        self.steps.append(trainer.global_step)


def _fit(X, cuda_graphs: bool, monkeypatch, **kwargs):
    """Fit on the GPU with graphs on or off; the reducer, its module and its step counts."""
    created = []
    original = training.UMAPModule.__init__

    def init(self, *args, config, **kw):
        original(self, *args, config=dataclasses.replace(config, cuda_graphs=cuda_graphs), **kw)
        created.append(self)

    steps = _Steps()
    with monkeypatch.context() as mp:
        mp.setattr(training.UMAPModule, "__init__", init)
        reducer = GlassBoxUMAP(
            random_state=0, trainer_kwargs=GPU, extra_callbacks=[steps], **{**STEPS, **kwargs}
        ).fit(X)
    return reducer, created[0], steps.steps


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data[:1000].astype(np.float32)


def test_graph_replay_matches_eager_steps(X, use_cuda, monkeypatch):
    eager, eager_module, eager_steps = _fit(X, False, monkeypatch)
    replayed, module, steps = _fit(X, True, monkeypatch)
    assert not eager_module.graphed and module.graphed
    assert steps == eager_steps == [10, 20, 30, 40, 50]
    # Same seed, same sampled edges, same kernels: the 50 steps give the same losses.
    np.testing.assert_allclose(replayed.history_["loss"], eager.history_["loss"], rtol=1e-4)
    scale = np.abs(eager.embedding_).max()
    assert np.abs(replayed.embedding_ - eager.embedding_).max() <= 1e-3 * scale


def test_capture_failing_midway_falls_back_to_eager(X, use_cuda, monkeypatch):
    original = training.UMAPModule._loss
    failed = []

    def loss_that_breaks_capture(self):
        out = original(self)  # some kernels are already recorded when this raises
        if torch.cuda.is_current_stream_capturing():
            failed.append(True)
            raise RuntimeError("injected failure during capture")
        return out

    monkeypatch.setattr(training.UMAPModule, "_loss", loss_that_breaks_capture)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reducer, module, steps = _fit(X, True, monkeypatch)
    messages = [str(w.message) for w in caught if "CUDA graph capture failed" in str(w.message)]
    assert failed == [True] and len(messages) == 1
    assert "injected failure during capture" in messages[0]
    assert not module.graphed
    # Every step was still taken, eagerly, and the model is sound.
    assert steps == [10, 20, 30, 40, 50]
    assert np.isfinite(reducer.history_["loss"]).all()
    C = reducer.compute_contributions(X[:100], dtype="float64")
    emb64 = forward64(reducer, X[:100])
    assert np.abs(C.sum(-1) - emb64).max() <= 1e-12 * np.abs(emb64).max()


def test_bf16_training_on_the_gpu(X, use_cuda, monkeypatch):
    kw = dict(STEPS, epochs=20, num_batches=None, quiet=True)
    fp32 = GlassBoxUMAP(random_state=0, trainer_kwargs=GPU, **kw).fit(X)
    bf16 = GlassBoxUMAP(
        random_state=0, trainer_kwargs={**GPU, "precision": "bf16-mixed"}, **kw
    ).fit(X)
    assert not np.array_equal(bf16.embedding_, fp32.embedding_)
    assert all(v.dtype == torch.float32 for v in bf16.encoder_.state_dict().values())
    t_bf16 = trustworthiness(X, bf16.embedding_, n_neighbors=10)
    t_fp32 = trustworthiness(X, fp32.embedding_, n_neighbors=10)
    assert t_bf16 > t_fp32 - 0.03
    C = bf16.compute_contributions(X[:100], dtype="float64")
    emb64 = forward64(bf16, X[:100])
    assert np.abs(C.sum(-1) - emb64).max() <= 1e-12 * np.abs(emb64).max()


def test_contributions_on_the_gpu_equal_the_cpus(X, use_cuda):
    reducer = GlassBoxUMAP(random_state=0, trainer_kwargs=GPU, **dict(STEPS, quiet=True)).fit(X)
    x = torch.as_tensor((X - reducer.mean_) / reducer.input_scale_, dtype=torch.float32)
    on_cpu, out_cpu = contributions(reducer.encoder_.eval(), x)
    on_gpu, out_gpu = contributions(reducer.encoder_.cuda().eval(), x.cuda())
    reducer.encoder_.cpu()
    scale = out_cpu.abs().max().item()
    assert on_gpu.is_cuda
    assert (on_gpu.cpu() - on_cpu).abs().max().item() <= 1e-5 * scale
    assert (out_gpu.cpu() - out_cpu).abs().max().item() <= 1e-5 * scale
    assert np.abs(out_cpu.numpy() - reducer.transform(X)).max() <= 1e-5 * scale
