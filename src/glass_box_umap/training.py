"""The LightningModule that trains an encoder with the UMAP loss, and the trainer around it.

Lightning owns the loop (callbacks, loggers, checkpoints, devices). The data loader only
counts steps: every batch of edges is sampled on the training device inside
``training_step``, each distinct vertex is encoded once, and nothing is copied to the
host until an epoch ends.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .graph import EdgeList
from .loss import umap_loss
from .sampling import EdgeSampler

#: Per-epoch loss terms recorded in ``history_`` and logged to TensorBoard.
EPOCH_METRICS = ("loss", "attraction", "repulsion")
#: Training throughput, sampled edges per second of wall time, also logged per epoch.
THROUGHPUT = "edges_per_s"


def steps_per_epoch(n_edges: int, batch_size: int, num_batches: int | None) -> int:
    """Steps per epoch: enough batches to draw as many edges as the graph holds.

    The graph holds both directions of every edge, as umap-learn's does. An epoch of
    ``ceil(n_edges / batch_size)`` steps, capped by ``num_batches``. (Drawing only
    umap-learn's per-epoch budget, ``sum(w) / max(w)`` edges, halves the steps on
    digits but costs 0.015 in trustworthiness at the default 200 epochs.)
    """
    steps = max(1, math.ceil(n_edges / batch_size))
    return steps if num_batches is None else min(steps, num_batches)


class _StepCounter(IterableDataset):
    """Yields step numbers only; the batch itself is drawn on the device."""

    def __init__(self, n_steps: int) -> None:
        self.n_steps = n_steps

    def __len__(self) -> int:
        return self.n_steps

    def __iter__(self) -> Iterator[int]:
        info = get_worker_info()
        if info is None:
            return iter(range(self.n_steps))
        return iter(range(info.id, self.n_steps, info.num_workers))


class UMAPModule(pl.LightningModule):
    """Trains ``encoder`` so that its embedding of ``data`` fits the fuzzy graph ``edges``.

    Parameters
    ----------
    encoder : nn.Module
        Maps (n, *input_shape) to (n, n_components).
    data : Tensor of shape (n_samples, *input_shape)
        Encoder inputs (already centred and projected). Kept out of the state dict.
    edges : EdgeList
    a, b : float
        Low-dimensional similarity curve parameters.
    negative_sample_rate : int
    repulsion_strength : float
    lr : float
    batch_size : int
        Edges per step.
    steps_per_epoch : int
    seed : int
        Seeds this module's sampler (offset by the process rank).
    num_workers : int
        Passed to the step-counting DataLoader.
    input_transform : callable, optional
        Maps raw samples (ndarray of shape (m, n_features)) to encoder inputs (a
        float32 tensor: centred and projected like ``data``). Callbacks that embed
        their own data during training (:class:`~glass_box_umap.callbacks.EmbeddingSnapshots`)
        use it.
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        data: torch.Tensor,
        edges: EdgeList,
        a: float,
        b: float,
        negative_sample_rate: int,
        repulsion_strength: float,
        lr: float,
        batch_size: int,
        steps_per_epoch: int,
        seed: int,
        num_workers: int = 0,
        input_transform: Callable[[np.ndarray], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self._data = data
        self._edges = edges
        self.a, self.b = a, b
        self.negative_sample_rate = negative_sample_rate
        self.repulsion_strength = repulsion_strength
        self.lr = lr
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.num_workers = num_workers
        self.input_transform = input_transform
        #: Set by :func:`train` when the fit was stopped by KeyboardInterrupt.
        self.interrupted = False
        self.history: dict[str, list[float]] = {
            "epoch": [],
            **{name: [] for name in EPOCH_METRICS},
            THROUGHPUT: [],
            "time": [],
            "lr": [],
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def on_fit_start(self) -> None:
        self._x = self._data.to(self.device)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed + self.global_rank)
        self.sampler = EdgeSampler(
            self._edges, self.batch_size, self.negative_sample_rate, self.device, generator
        )
        self._sums = torch.zeros(len(EPOCH_METRICS), device=self.device)
        self._fit_start = time.perf_counter()

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            _StepCounter(self.steps_per_epoch),
            batch_size=None,
            num_workers=self.num_workers,
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.encoder.parameters(), lr=self.lr, fused=True)

    def on_train_epoch_start(self) -> None:
        self._sums.zero_()
        self._steps_this_epoch = 0
        self._epoch_start = time.perf_counter()

    def training_step(self, batch: int, batch_idx: int) -> torch.Tensor:
        edges = self.sampler.sample()
        # index_select, not fancy indexing: its backward (index_add) is several times
        # faster on CPU than the accumulate-put that x[idx] differentiates into.
        emb = self.encoder(self._x.index_select(0, edges.vertices))
        loss, attraction, repulsion = umap_loss(
            emb.index_select(0, edges.head),
            emb.index_select(0, edges.tail),
            emb.index_select(0, edges.negatives.flatten()).view(*edges.negatives.shape, -1),
            self.a,
            self.b,
            self.repulsion_strength,
        )
        self._sums += torch.stack([loss, attraction, repulsion]).detach()
        self._steps_this_epoch += 1
        if batch_idx == self.trainer.num_training_batches - 1:
            # One host-side summary per epoch, seen by every callback's on_train_epoch_end.
            means = self._sums / self._steps_this_epoch
            # Host time without a device sync: on a GPU this is the rate at which steps
            # were queued, which over a whole epoch is the rate at which they ran.
            seconds = time.perf_counter() - self._epoch_start
            edges_per_s = self._steps_this_epoch * self.batch_size / max(seconds, 1e-9)
            self.log_dict(
                {**dict(zip(EPOCH_METRICS, means, strict=True)), THROUGHPUT: edges_per_s},
                on_step=False,
                on_epoch=True,
                batch_size=1,
                prog_bar=True,
                sync_dist=self.trainer.world_size > 1,
            )
        return loss

    def on_train_epoch_end(self) -> None:
        metrics = self.trainer.callback_metrics
        self.history["epoch"].append(self.current_epoch)
        for name in (*EPOCH_METRICS, THROUGHPUT):
            self.history[name].append(float(metrics[name]))
        if not math.isfinite(self.history["loss"][-1]):
            # Stop at the first bad epoch: later epochs would only spread NaN weights.
            raise FloatingPointError(
                f"training diverged: the loss became {self.history['loss'][-1]} at epoch "
                f"{self.current_epoch}; try a lower lr (it is {self.lr:g})"
            )
        self.history["time"].append(time.perf_counter() - self._fit_start)
        self.history["lr"].append(self.trainer.optimizers[0].param_groups[0]["lr"])


class BestWeights(Checkpoint):
    """Keeps, in memory, the encoder weights of the epoch with the lowest loss.

    A :class:`~lightning.pytorch.callbacks.Checkpoint` so that the trainer calls it after
    the module has logged the epoch's loss.
    """

    def __init__(self, monitor: str = "loss") -> None:
        self.monitor = monitor
        self.best_score = float("inf")
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: UMAPModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            return
        score = float(score)
        if score < self.best_score:
            self.best_score = score
            self.best_epoch = pl_module.current_epoch
            self.best_state = {
                k: v.detach().clone() for k, v in pl_module.encoder.state_dict().items()
            }


@contextlib.contextmanager
def _quiet_lightning(quiet: bool) -> Iterator[None]:
    """Silences Lightning's start-up chatter (and, when ``quiet``, its warnings).

    Lightning announces devices and paths through the ``lightning`` loggers; those
    lines are noise for an estimator and would point into a temporary directory.
    """
    names = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        else:
            for pattern in (
                ".*does not have many workers.*",
                ".*smaller than the logging interval.*",
                ".*`training_step` returned.*",
                ".*Checkpoint directory .* exists and is not empty.*",
                ".*TensorBoard.*",
                ".*`IterableDataset` has `__len__` defined.*",
                ".*LeafSpec.*",
            ):
                warnings.filterwarnings("ignore", message=pattern)
            # Deprecations inside Lightning are for its maintainers, not our users.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="lightning")
            warnings.filterwarnings("ignore", category=FutureWarning, module="lightning")
        try:
            yield
        finally:
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)


def train(
    module: UMAPModule,
    epochs: int,
    checkpoint_dir: Path,
    quiet: bool,
    restore_best_weights: bool,
    extra_callbacks: list[pl.Callback],
) -> tuple[dict[str, list[float]], int | None]:
    """Run the Lightning trainer on ``module``.

    Writes Lightning checkpoints (``best-*.ckpt`` and ``last.ckpt``) and TensorBoard
    event files under ``checkpoint_dir``. With ``restore_best_weights``, the encoder
    ends with the weights of the lowest-loss epoch.

    Returns
    -------
    history : dict of lists
        Per-epoch ``epoch``, ``loss``, ``attraction``, ``repulsion``, ``edges_per_s``,
        ``time`` (seconds since the start of training) and ``lr``.
    best_epoch : int or None
        The epoch whose weights the encoder holds when ``restore_best_weights``.
    """
    best = BestWeights()
    checkpoint = ModelCheckpoint(
        dirpath=checkpoint_dir / "checkpoints",
        filename="best-{epoch}",
        monitor="loss",
        mode="min",
        save_top_k=1,
        save_last=True,
        # A checkpoint costs ~10 ms; at one per epoch it would dominate small fits.
        every_n_epochs=max(1, epochs // 10),
        save_weights_only=False,
    )
    logger = TensorBoardLogger(save_dir=str(checkpoint_dir), name="tensorboard", version="")
    with _quiet_lightning(quiet):
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="auto",
            devices=1,
            logger=logger,
            callbacks=[best, checkpoint, *copy.copy(extra_callbacks)],
            enable_progress_bar=not quiet,
            enable_model_summary=False,
            log_every_n_steps=1,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            default_root_dir=str(checkpoint_dir),
        )
        try:
            trainer.fit(module)
        except SystemExit:
            # Lightning turns Ctrl-C (KeyboardInterrupt) into SystemExit after a graceful
            # shutdown; the weights so far are still worth keeping.
            if not trainer.interrupted:
                raise
            module.interrupted = True
    if restore_best_weights and best.best_state is not None:
        module.encoder.load_state_dict(best.best_state)
    best_epoch = best.best_epoch if restore_best_weights else None
    return module.history, best_epoch
