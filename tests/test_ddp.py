"""Data-parallel training (Lightning DDP) on the CPU: two processes talking over gloo.

Lightning's ``strategy='ddp'`` starts the other rank by running the caller's script again,
so each test writes a small script and runs it in a subprocess; every rank saves its model
and what its trainer saw, and the test compares them.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import load_file
from sklearn.manifold import trustworthiness

from glass_box_umap import GlassBoxUMAP, training
from glass_box_umap.training import steps_per_epoch

EPOCHS = 20
BATCH_SIZE = 10_000

SCRIPT = """
import json, os, sys
import numpy as np
from lightning.pytorch import Callback
from sklearn.datasets import load_digits
from glass_box_umap import GlassBoxUMAP


class Record(Callback):
    def on_fit_end(self, trainer, pl_module):
        self.info = dict(
            rank=trainer.global_rank,
            world_size=trainer.world_size,
            global_step=trainer.global_step,
            batches_per_epoch=trainer.num_training_batches,
        )


def main():
    out, strategy, epochs, batch_size = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
    X = load_digits().data[:400].astype(np.float32)
    record = Record()
    reducer = GlassBoxUMAP(
        random_state=0, epochs=epochs, batch_size=batch_size, quiet=True,
        extra_callbacks=[record],
        trainer_kwargs=dict(accelerator="cpu", devices=2, strategy=strategy),
    )
    reducer.fit(X)
    # With ddp_spawn the callback ran in the spawned processes; only the main one returns.
    rank = record.info["rank"] if hasattr(record, "info") else "main"
    reducer.save(os.path.join(out, f"rank{rank}.safetensors"))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(dict(getattr(record, "info", {}), history=reducer.history_), f)


if __name__ == "__main__":
    main()
"""


def _run(tmp_path, strategy: str) -> None:
    script = tmp_path / "fit_ddp.py"
    script.write_text(SCRIPT)
    # One thread per rank: two ranks on two cores, not four threads fighting for them.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path), strategy, str(EPOCHS), str(BATCH_SIZE)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.fixture(scope="module")
def single(digits) -> GlassBoxUMAP:
    X, _ = digits
    return GlassBoxUMAP(random_state=0, epochs=EPOCHS, batch_size=BATCH_SIZE, quiet=True).fit(X)


@pytest.fixture(scope="module")
def same_steps(digits) -> GlassBoxUMAP:
    """One device, as many optimiser steps as each DDP rank takes (half an epoch's)."""
    X, _ = digits
    per_rank = math.ceil(steps_per_epoch(BATCH_SIZE, None) / 2)
    return GlassBoxUMAP(
        random_state=0, epochs=EPOCHS, batch_size=BATCH_SIZE, num_batches=per_rank, quiet=True
    ).fit(X)


def _trust(X, emb):
    return trustworthiness(X, emb, n_neighbors=10)


def test_ddp_ranks_share_the_work_and_end_with_one_model(tmp_path, digits, single, same_steps):
    X, _ = digits
    _run(tmp_path, "ddp")
    info = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["rank"] for i in info] == [0, 1]
    assert all(i["world_size"] == 2 for i in info)
    # Each rank takes half of an epoch's steps, so an epoch draws as many edges as on one
    # device; a Lightning batch holds up to _EAGER_STEPS_PER_BATCH of them.
    steps = steps_per_epoch(BATCH_SIZE, None)
    assert steps >= 2
    for i in info:
        per_rank = math.ceil(steps / 2)
        assert i["batches_per_epoch"] == math.ceil(per_rank / training._EAGER_STEPS_PER_BATCH)
        assert i["global_step"] == EPOCHS * per_rank
    # The epoch losses are averaged over ranks: both saw the same history.
    assert info[0]["history"]["loss"] == info[1]["history"]["loss"]
    assert len(info[0]["history"]["loss"]) == EPOCHS

    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for key in ranks[0]:
        assert np.array_equal(ranks[0][key].numpy(), ranks[1][key].numpy()), key
    # Different sampling seeds per rank, so DDP really synchronised them: not a copy of
    # the single-device fit, but as good as one device taking as many optimiser steps
    # (each DDP step averages two batches).
    ddp = GlassBoxUMAP.load(tmp_path / "rank0.safetensors")
    assert not np.array_equal(ddp.embedding_, single.embedding_)
    np.testing.assert_array_equal(ddp.transform(X), ddp.embedding_)
    assert _trust(X, ddp.embedding_) > _trust(X, same_steps.embedding_) - 0.02


@pytest.mark.slow  # spawning re-imports torch and Lightning in each rank: ~40 s
def test_ddp_spawn_returns_rank_zero_model_history_and_best_epoch(tmp_path, digits, same_steps):
    X, _ = digits
    _run(tmp_path, "ddp_spawn")
    model = GlassBoxUMAP.load(tmp_path / "rankmain.safetensors")
    history = json.loads((tmp_path / "rankmain.json").read_text())["history"]
    assert len(history["loss"]) == EPOCHS
    assert model.best_epoch_ == int(np.argmin(history["loss"]))
    assert _trust(X, model.embedding_) > _trust(X, same_steps.embedding_) - 0.02
