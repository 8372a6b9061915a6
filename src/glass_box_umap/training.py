"""The LightningModule that trains an encoder with the UMAP loss, and the trainer around it.

Lightning owns the loop (callbacks, loggers, checkpoints, devices, DDP). The data loader
only counts steps: every batch of edges is sampled on the training device inside
``training_step``, and nothing is copied to the host until an epoch ends.

On a CUDA device a step is a few dozen small kernels, so its cost is launching them, not
running them. There the module samples fixed-size batches (see
:class:`~glass_box_umap.sampling.EdgeSampler`), records sampling, forward and backward
once in a CUDA graph, and replays it: one launch plus the fused Adam update per step,
several steps per Lightning batch. If capture fails, it warns once and trains eagerly.

How much training a fit gets does not depend on the number of points: an epoch draws
:data:`EPOCH_EDGES` edges (``ceil(EPOCH_EDGES / batch_size)`` optimiser steps) whatever
the size of the data and of its graph. Tying an epoch to the size of the graph gave 1,200
points 600 Adam steps and 100,000 points 50,000. See :func:`steps_per_epoch` for the
measurements behind the number.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ._prelu import restore_prelu, use_training_prelu
from .affinity import EdgeList
from .loss import sampled_umap_loss
from .normalisation import BatchRMS, fold_batch_rms, insert_batch_rms, supports_batch_rms
from .parameters import trainer_kwargs_shape
from .sampling import AcrossNoise, EdgeSampler, NeighbourNoise

#: Per-epoch loss terms recorded in ``history_`` and logged to TensorBoard.
EPOCH_METRICS = ("loss", "attraction", "repulsion")
#: Training throughput, sampled edges per second of wall time, also logged per epoch.
THROUGHPUT = "edges_per_s"

#: Whether a CUDA fit replays its steps from a CUDA graph unless told otherwise
#: (``TrainingConfig(cuda_graphs=...)``). Graphs need one device and no gradient scaler.
USE_CUDA_GRAPHS = True
#: Eager steps before capture (on a side stream, as CUDA graphs require): they create
#: the optimiser state, cuBLAS workspaces and allocator pools the graph then reuses.
_GRAPH_WARMUP_STEPS = 3
#: Optimiser steps per Lightning batch when replaying a graph: Lightning's own per-batch
#: work (hooks, progress bar) costs more than a replayed step.
_GRAPH_STEPS_PER_BATCH = 16
#: Optimiser steps per Lightning batch in eager training (an epoch's 12 steps at the
#: defaults): Lightning's per-batch work (hooks, logging) is a noticeable part of a
#: small data set's step.
_EAGER_STEPS_PER_BATCH = 12
#: Edges whose input-space lengths are measured at once when scaling the input noise.
_NOISE_CHUNK = 1_000_000
#: Precisions whose backward is a plain ``loss.backward()`` (no gradient scaler).
_GRAPH_PRECISIONS = ("32-true", "bf16-mixed")
#: Trainer arguments whose defaults ``trainer_kwargs`` may override.
TRAINER_DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "devices": 1,
    "log_every_n_steps": 1,
    "enable_model_summary": False,
}


def check_trainer_kwargs(trainer_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated copy of ``trainer_kwargs``: Trainer arguments that the estimator leaves free.

    What :func:`glass_box_umap.parameters.trainer_kwargs_shape` checks without Lightning
    (a mapping with string keys, none in
    :data:`~glass_box_umap.parameters.RESERVED_TRAINER_KWARGS`, a supported precision),
    then that ``lightning.pytorch.Trainer`` takes every key and accepts the whole (a
    Trainer is built and discarded). Called once per fit, before the graph is built.

    Raises
    ------
    TypeError
        If it is not a mapping with string keys.
    ValueError
        For an argument ``lightning.pytorch.Trainer`` does not take or refuses, or a
        reserved one (the message names the parameter to use instead).
    """
    if trainer_kwargs is None:
        return {}
    trainer_kwargs = trainer_kwargs_shape("trainer_kwargs", trainer_kwargs)
    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in trainer_kwargs:
        if key not in accepted:
            raise ValueError(
                f"trainer_kwargs: {key!r} is not an argument of lightning.pytorch.Trainer"
            )
    if trainer_kwargs:
        _probe_trainer(trainer_kwargs)
    return trainer_kwargs


def _probe_trainer(trainer_kwargs: dict[str, Any]) -> None:
    """Build, and discard, a Trainer with these arguments, so that Lightning's own checks
    (a GPU asked for but absent, an unknown strategy, too many devices) fail now, naming
    ``trainer_kwargs``, rather than after the neighbour graph is built. Building a
    Trainer starts no process and touches no device memory.
    """
    options = {**TRAINER_DEFAULTS, **trainer_kwargs}
    try:
        with _quiet_lightning(True):
            pl.Trainer(
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                **options,
            )
    except Exception as err:  # Lightning raises several types, none of them ours
        raise ValueError(
            f"trainer_kwargs: lightning.pytorch.Trainer refuses {trainer_kwargs}: "
            f"{type(err).__name__}: {err}"
        ) from None


#: Directed edges one epoch draws, whatever the size of the data and of its graph (about
#: the number a graph of 6,000 points holds at ``n_neighbors=15``). With the defaults
#: (200 epochs of 12 steps of 10,000 edges) a fit takes 2,400 Adam steps; see
#: :func:`steps_per_epoch`.
EPOCH_EDGES = 120_000


def steps_per_epoch(batch_size: int, num_batches: int | None) -> int:
    """Optimiser steps per epoch, over all devices.

    ``num_batches`` when given, else enough batches of ``batch_size`` edges to draw
    :data:`EPOCH_EDGES` edges (12 steps at the default batch size) whatever the size of
    the data. With several devices each takes ``ceil(steps / world_size)`` of them.

    When an epoch drew as many edges as the graph held, small data sets got a few hundred
    steps and medium ones tens of thousands, most of which no longer changed the map.
    2,400 steps at the defaults are the knee of held-out quality against fit time, on
    small and on medium data alike. On digits (1,203 training points, seeds 0-4, ``python
    benchmarks/generalization.py --datasets digits --seeds 5 --budget 4 6 8 12 16 --set
    across_noise=1.0``, the noise that fits of 1,000 steps or more draw by default)
    held-out 10-NN accuracy / held-out / training trustworthiness were 0.917 / 0.925 /
    0.959 at 800 steps (where the default draws no across noise: 0.895 / 0.906 / 0.967),
    0.930 / 0.929 / 0.967 at 1,200, 0.936 / 0.930 / 0.969 at 1,600, 0.939 / 0.935 /
    0.970 at 2,400 and 0.940 / 0.934 / 0.971 at 3,200 (on seeds 5-9, 2,400 steps gave
    0.937 / 0.931 / 0.969). Fewer samples need as many steps: on a 300-row subsample of
    the same training digits (``--train-size 300 --budget 4 8 12``) held-out accuracy was
    0.804 at 800 steps and 0.861 at 2,400. More samples need as many too: on 20,000 noisy
    copies of the digits (13,400 training rows, held-out rows from unseen images, seeds
    0-1, ``python benchmarks/medium_budget.py --data noisy-digits --budget 4 8 12 16
    --seeds 2``) the same figures were 0.792 / 0.909 / 0.927 at 800 steps, 0.870 / 0.934
    / 0.952 at 1,600, 0.895 / 0.941 / 0.960 at 2,400 and 0.899 / 0.943 / 0.965 at 3,200
    (umap-learn 0.928 / 0.913 / 0.879; figures of the script's prototype, whose seed 0
    the script reproduces within 0.02: 0.798 / 0.910 / 0.934 at 800 steps, 0.908 / 0.950 /
    0.968 at 2,400). Only easy data stop early: a 10-cluster mixture
    of 20,000 x 50 points scores the same trustworthiness at 400 steps as at 800, which
    is why larger data took 800 steps until 2026-12.

    Parameters
    ----------
    batch_size : int
        Edges per step.
    num_batches : int or None
        Steps per epoch, when the user set them.

    Returns
    -------
    int
        Steps per epoch.
    """
    if num_batches is not None:
        return num_batches
    return max(1, math.ceil(EPOCH_EDGES / batch_size))


class _StepCounter(IterableDataset):
    """Yields, per Lightning batch, how many optimiser steps to take; edges are drawn on the device.

    Parameters
    ----------
    n_steps : int
        Optimiser steps in the epoch.
    steps_per_batch : int
        Steps per Lightning batch; the last batch takes the remainder.
    """

    def __init__(self, n_steps: int, steps_per_batch: int = 1) -> None:
        full, rest = divmod(n_steps, steps_per_batch)
        self.sizes = [steps_per_batch] * full + ([rest] if rest else [])

    def __len__(self) -> int:
        return len(self.sizes)

    def __iter__(self) -> Iterator[int]:
        info = get_worker_info()
        if info is None:
            return iter(self.sizes)
        return iter(self.sizes[info.id :: info.num_workers])


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """How a fit trains: everything :class:`UMAPModule` and :func:`train` need besides data.

    Built by keyword from the estimator's checked parameters; frozen, so that no stage of
    a fit changes what the next one reads.

    Attributes
    ----------
    a, b : float
        Low-dimensional similarity curve ``1 / (1 + a d^(2b))``.
    seed : int
        Seeds the edge sampler, offset by the process rank so that every device draws
        its own edges.
    steps_per_epoch : int
        Steps per epoch over all devices (each of ``world_size`` devices takes
        ``ceil(steps_per_epoch / world_size)``); see :func:`steps_per_epoch`.
    epochs : int
    negative_sample_rate : int
    repulsion_strength : float
    lr : float
        Adam's learning rate.
    batch_size : int
        Edges per step, on each device (at most the graph's edge count).
    num_workers : int
        Passed to the step-counting DataLoader.
    input_noise : float
        Standard deviation of the Gaussian noise added to every encoded input at every
        step, relative to the point's mean distance to its graph neighbours (divided by
        the square root of the input dimension, so that the noise vector's length is
        about ``input_noise`` times that distance); see :meth:`UMAPModule.noise_scale`.
    neighbour_noise : float
        Strength of the noise along graph neighbourhoods added to every encoded input at
        every step (:class:`~glass_box_umap.sampling.NeighbourNoise`); 0 for none.
    across_noise : float
        Strength of the noise across graph neighbourhoods
        (:class:`~glass_box_umap.sampling.AcrossNoise`), relative to each point's scale as
        ``input_noise``; 0 for none. None is drawn on inputs of at most ``across_rank``
        values, which no direction lies across.
    across_rank : int
        Heaviest graph neighbours whose offsets span a point's neighbourhood for
        ``across_noise``.
    noise_free_epochs : int
        The last epochs, of ``epochs``, in which no noise (input, neighbour or across)
        is drawn, so that the map settles on the training points.
    batch_rms : bool
        Train the shipped MLP with a batch-RMS normalisation after each PReLU, folded into
        the weights when the fit ends (:mod:`glass_box_umap.normalisation`).
    landmark_weight : float
        Weight of the landmark term (when the module has landmarks): the mean squared
        distance between the step's landmark samples and their positions.
    cuda_graphs : bool or None
        Replay steps from a CUDA graph. None: :data:`USE_CUDA_GRAPHS` where possible
        (one CUDA device, no gradient scaler); True warns when it is not possible.
    quiet : bool
        No progress output and no Lightning warnings.
    restore_best_weights : bool
        End with the weights of the lowest-loss epoch.
    extra_callbacks : tuple of lightning.pytorch.Callback
    trainer_kwargs : dict
        Checked by :func:`check_trainer_kwargs`; they override :data:`TRAINER_DEFAULTS`.
    """

    a: float
    b: float
    seed: int
    steps_per_epoch: int
    epochs: int = 200
    negative_sample_rate: int = 5
    repulsion_strength: float = 1.0
    lr: float = 1e-3
    batch_size: int = 10_000
    num_workers: int = 0
    input_noise: float = 0.0
    neighbour_noise: float = 0.0
    across_noise: float = 0.0
    across_rank: int = 14
    noise_free_epochs: int = 0
    batch_rms: bool = False
    landmark_weight: float = 1.0
    cuda_graphs: bool | None = None
    quiet: bool = True
    restore_best_weights: bool = True
    extra_callbacks: tuple[pl.Callback, ...] = ()
    trainer_kwargs: Mapping[str, Any] = field(default_factory=dict)


class UMAPModule(pl.LightningModule):
    """Trains ``encoder`` so that its embedding of ``data`` fits the fuzzy graph ``edges``.

    The optimiser is stepped by the module (Lightning's manual optimisation), so that one
    Lightning batch may hold several steps and a step may be a CUDA graph replay.

    Parameters
    ----------
    encoder : nn.Module
        Maps (n, \\*input_shape) to (n, n_components).
    data : Tensor of shape (n_samples, \\*input_shape)
        Encoder inputs (already centred and projected). Kept out of the state dict.
    edges : EdgeList
    config : TrainingConfig
    input_transform : callable, optional
        Maps raw samples (ndarray of shape (m, n_features)) to encoder inputs (a
        float32 tensor: centred and projected like ``data``), as
        :meth:`glass_box_umap.model.GlassBoxMap.prepare` does. Callbacks that embed their
        own data during training (:class:`~glass_box_umap.callbacks.EmbeddingSnapshots`)
        use it.
    landmarks : ndarray of shape (n_samples, n_components), optional
        Positions the samples of ``data`` should keep (NaN rows: free samples); adds
        ``config.landmark_weight`` times the mean squared distance of the step's
        landmark samples to their positions to every step's loss.
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        data: torch.Tensor,
        edges: EdgeList,
        config: TrainingConfig,
        input_transform: Callable[[np.ndarray], torch.Tensor] | None = None,
        landmarks: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.encoder = encoder
        self._data = data
        self._edges = edges
        self.config = config
        self.input_transform = input_transform
        self._landmark_positions = landmarks
        if config.batch_rms and supports_batch_rms(encoder):
            insert_batch_rms(encoder, data)
        use_training_prelu(encoder)
        #: Set by :func:`train` when the fit was stopped by KeyboardInterrupt.
        self.interrupted = False
        #: The epoch whose weights :class:`BestWeights` restored, if it did.
        self.best_epoch: int | None = None
        #: Whether steps are being replayed from a CUDA graph (set during the fit).
        self.graphed = False
        self.history: dict[str, list[float]] = {
            "epoch": [],
            **{name: [] for name in EPOCH_METRICS},
            THROUGHPUT: [],
            "time": [],
            "lr": [],
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    # History and best epoch travel in the state dict, so that a fit in spawned processes
    # (strategy='ddp_spawn') hands them back to the main process with the weights.
    def get_extra_state(self) -> dict[str, Any]:
        return {"history": self.history, "best_epoch": self.best_epoch}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.history = state["history"]
        self.best_epoch = state["best_epoch"]

    def on_fit_start(self) -> None:
        self._x = self._data.to(self.device)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.config.seed + self.global_rank)
        # A step draws at most as many edges as the graph holds: on wine's 3,000 edges a
        # batch of 10,000 would repeat each one three times over, at three times the cost.
        batch_size = min(self.config.batch_size, len(self._edges.head))
        self.sampler = EdgeSampler(
            self._edges, batch_size, self.config.negative_sample_rate, self.device, generator
        )
        self._sums = torch.zeros(len(EPOCH_METRICS), device=self.device)
        dims = self._x[0].numel()
        across = self.config.across_noise > 0 and dims > self.config.across_rank
        scale = (
            self.noise_scale(self._x, self.sampler)
            if self.config.input_noise > 0 or across
            else None
        )
        self._noise = scale * self.config.input_noise if self.config.input_noise > 0 else None
        self._neighbour_noise = (
            NeighbourNoise(self._edges, self.device, generator)
            if self.config.neighbour_noise > 0
            else None
        )
        self._across_noise = (
            AcrossNoise(self._edges, self._x, self.config.across_rank, generator)
            if across
            else None
        )
        self._across_scale = scale * self.config.across_noise if across else None
        # 1, then 0 for the last noise_free_epochs: a tensor, so that a CUDA graph that
        # recorded the noise reads the change too.
        self._noise_gain = torch.ones((), device=self.device)
        self._landmarks = None
        if self._landmark_positions is not None:
            positions = torch.as_tensor(self._landmark_positions, device=self.device)
            free = torch.isnan(positions).any(dim=1)
            # Fixed shapes (a 0/1 weight per vertex, no boolean indexing): the term can be
            # recorded in a CUDA graph like the rest of the step.
            self._landmarks = (positions.nan_to_num(0.0), (~free).float())
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_pending = self._graph_planned = self._use_graphs()
        self._warmup_left = _GRAPH_WARMUP_STEPS
        self._fit_start = time.perf_counter()

    @staticmethod
    def noise_scale(x: torch.Tensor, sampler: EdgeSampler) -> torch.Tensor:
        """Per-point scale of the input noise: mean neighbour distance / sqrt(dimension).

        Gaussian noise of this standard deviation per input value has about the length
        of the point's mean distance to its neighbours in the graph, so that it is as
        large in dense regions as in sparse ones, and independent of the data's units.

        Parameters
        ----------
        x : Tensor of shape (n_vertices, \\*input_shape)
            Encoder inputs.
        sampler : EdgeSampler
            Its ``head`` and ``tail`` (on ``x``'s device) are the graph's edges.

        Returns
        -------
        Tensor of shape (n_vertices, 1, ..., 1), float32, broadcastable against ``x``.
        """
        flat = x.flatten(1)
        total = torch.zeros(flat.shape[0], device=x.device)
        for start in range(0, sampler.n_edges, _NOISE_CHUNK):
            head = sampler.head[start : start + _NOISE_CHUNK]
            tail = sampler.tail[start : start + _NOISE_CHUNK]
            lengths = torch.linalg.vector_norm(flat[head] - flat[tail], dim=1)
            total.index_add_(0, head, lengths.float())
        degree = torch.bincount(sampler.head, minlength=flat.shape[0]).clamp_min_(1)
        scale = total / degree / math.sqrt(flat.shape[1])
        return scale.view(-1, *[1] * (x.ndim - 1))

    def _use_graphs(self) -> bool:
        """Whether to capture a CUDA graph: wanted, and possible on this trainer."""
        wanted = USE_CUDA_GRAPHS if self.config.cuda_graphs is None else self.config.cuda_graphs
        if not wanted:
            return False
        reason = None
        if self.device.type != "cuda":
            reason = f"training runs on {self.device.type}, not CUDA"
        elif self.trainer.world_size > 1:
            reason = "training runs on several devices"
        elif str(self.trainer.precision) not in _GRAPH_PRECISIONS:
            reason = f"precision {self.trainer.precision!r} scales gradients"
        elif not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
            reason = "this PyTorch cannot capture a custom random generator"
        if reason is not None and self.config.cuda_graphs:
            warnings.warn(f"cuda_graphs: not used, {reason}", RuntimeWarning, stacklevel=2)
        return reason is None

    def train_dataloader(self) -> DataLoader:
        steps = math.ceil(self.config.steps_per_epoch / self.trainer.world_size)
        # Lightning asks for the loader after on_fit_start, which decides on graphs.
        per_batch = _GRAPH_STEPS_PER_BATCH if self._graph_planned else _EAGER_STEPS_PER_BATCH
        return DataLoader(
            _StepCounter(steps, per_batch),
            batch_size=None,
            num_workers=self.config.num_workers,
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.encoder.parameters(), lr=self.config.lr, fused=True)

    def on_train_epoch_start(self) -> None:
        if self.current_epoch >= self.config.epochs - self.config.noise_free_epochs:
            self._noise_gain.zero_()
        self._sums.zero_()
        self._steps_this_epoch = 0
        self._epoch_start = time.perf_counter()

    def training_step(self, n_steps: int, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        for _ in range(int(n_steps)):
            loss = optimizer.step(closure=self._next_closure())
        self._steps_this_epoch += int(n_steps)
        if batch_idx == self.trainer.num_training_batches - 1:
            # One host-side summary per epoch, seen by every callback's on_train_epoch_end.
            means = self._sums / self._steps_this_epoch
            if self.device.type == "cuda":
                # The host may be many queued steps ahead; the epoch's one wait for the
                # device makes the time below the time the steps took.
                torch.cuda.synchronize(self.device)
            seconds = time.perf_counter() - self._epoch_start
            world = self.trainer.world_size
            edges = world * self._steps_this_epoch * self.sampler.batch_size
            edges_per_s = edges / max(seconds, 1e-9)
            self.log_dict(
                {**dict(zip(EPOCH_METRICS, means, strict=True)), THROUGHPUT: edges_per_s},
                on_step=False,
                on_epoch=True,
                batch_size=1,
                prog_bar=True,
                sync_dist=world > 1,
            )
        return loss

    # ------------------------------------------------------------------ one step
    def _loss(self) -> torch.Tensor:
        """Sample a batch, embed it and return its loss; adds the loss terms to the epoch sums."""
        batch = self.sampler.sample()
        inputs = batch.inputs(self._x)
        noise = None
        if self._noise is not None:
            # Noise around every training point teaches the map the neighbourhood between
            # points, where unseen samples land (held-out digits: 0.855 -> 0.899).
            noise = self._per_row(self._noise, batch.vertices) * torch.randn(
                inputs.shape,
                generator=self.sampler.generator,
                device=inputs.device,
                dtype=inputs.dtype,
            )
        if self._neighbour_noise is not None:
            along = self.config.neighbour_noise * self._neighbour_noise(
                self._x, batch.vertices, inputs
            )
            noise = along if noise is None else noise + along
        if self._across_noise is not None:
            across = self._per_row(self._across_scale, batch.vertices) * self._across_noise(
                batch.vertices
            ).to(inputs.dtype)
            noise = across if noise is None else noise + across
        if noise is not None:
            inputs = inputs + self._noise_gain.to(inputs.dtype) * noise
        # float32 whatever the autocast precision: the loss takes logs of small distances.
        emb = self.encoder(inputs).float()
        loss, attraction, repulsion = sampled_umap_loss(
            emb,
            batch.head,
            batch.tail,
            batch.negatives,
            self.config.a,
            self.config.b,
            self.config.repulsion_strength,
        )
        if self._landmarks is not None:
            loss = loss + self.config.landmark_weight * self._landmark_term(emb, batch.vertices)
        self._sums += torch.stack([loss, attraction, repulsion]).detach()
        return loss

    @staticmethod
    def _per_row(values: torch.Tensor, vertices: torch.Tensor | None) -> torch.Tensor:
        """``values`` (one row per vertex) at the rows encoded this step."""
        return values if vertices is None else values.index_select(0, vertices)

    def _landmark_term(self, emb: torch.Tensor, vertices: torch.Tensor | None) -> torch.Tensor:
        """Mean squared distance of the encoded landmark samples to their positions."""
        positions, weights = self._landmarks
        if vertices is not None:
            positions = positions.index_select(0, vertices)
            weights = weights.index_select(0, vertices)
        squared = (emb - positions).square().sum(-1) * weights
        return squared.sum() / weights.sum().clamp_min(1.0)

    def _eager_step(self) -> torch.Tensor:
        """The optimiser's closure: loss and gradients (all-reduced under DDP)."""
        loss = self._loss()
        self.optimizers().zero_grad()
        self.manual_backward(loss)
        return loss

    def _replay(self) -> torch.Tensor:
        self._graph.replay()
        return self._graph_loss

    def _warmup_step(self) -> torch.Tensor:
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            loss = self._eager_step()
        current.wait_stream(side)
        return loss

    def _next_closure(self) -> Callable[[], torch.Tensor]:
        if self._graph is not None:
            return self._replay
        if self._graph_pending:
            if self._warmup_left > 0:
                self._warmup_left -= 1
                return self._warmup_step
            self._capture()
            if self._graph is not None:
                return self._replay
        return self._eager_step

    def _capture(self) -> None:
        """Record zeroing, sampling, forward and backward of one step in a CUDA graph.

        The graph writes gradients into the parameters' existing ``.grad`` tensors and
        draws from the sampler's generator (registered with the graph, so each replay
        draws new edges); the Adam update stays outside, so that Lightning still counts
        steps and runs its optimiser hooks. On failure, warns and leaves ``_graph`` None.
        """
        self._graph_pending = False
        params = [p for p in self.encoder.parameters() if p.requires_grad]
        try:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            graph = torch.cuda.CUDAGraph()
            graph.register_generator_state(self.sampler.generator)
            # Autocast's weight cache must be off inside a graph (PyTorch's CUDA graph notes).
            autocast = torch.autocast(
                "cuda",
                dtype=torch.get_autocast_dtype("cuda"),
                enabled=torch.is_autocast_enabled("cuda"),
                cache_enabled=False,
            )
            with torch.cuda.graph(graph), autocast:
                loss = self._loss()
                grads = torch.autograd.grad(loss, params)
                for p, g in zip(params, grads, strict=True):
                    p.grad.copy_(g)
        except Exception as err:  # any failure at all means: train eagerly
            warnings.warn(
                f"CUDA graph capture failed ({type(err).__name__}: {err}); "
                "training continues without CUDA graphs",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        self._graph, self._graph_loss = graph, loss
        self.graphed = True

    def on_train_epoch_end(self) -> None:
        if self.trainer.world_size > 1:
            # Each device's running RMS saw its own batches; the fold needs one value,
            # and BestWeights (a checkpoint callback, called after this hook) keeps it.
            for layer in self.encoder.modules():
                if isinstance(layer, BatchRMS):
                    mean = self.trainer.strategy.reduce(layer.running_rms, reduce_op="mean")
                    layer.running_rms.copy_(mean)
        metrics = self.trainer.callback_metrics
        self.history["epoch"].append(self.current_epoch)
        for name in (*EPOCH_METRICS, THROUGHPUT):
            self.history[name].append(float(metrics[name]))
        if not math.isfinite(self.history["loss"][-1]):
            # Stop at the first bad epoch: later epochs would only spread NaN weights.
            raise FloatingPointError(
                f"training diverged: the loss became {self.history['loss'][-1]} at epoch "
                f"{self.current_epoch}; try a lower lr (it is {self.config.lr:g})"
            )
        self.history["time"].append(time.perf_counter() - self._fit_start)
        self.history["lr"].append(self.trainer.optimizers[0].param_groups[0]["lr"])

    def on_fit_end(self) -> None:
        # Free the graph's memory pool and the device copy of the data.
        self._graph = None
        self._x = None


class BestWeights(Checkpoint):
    """Keeps, in memory, the encoder weights of the epoch with the lowest loss.

    A :class:`~lightning.pytorch.callbacks.Checkpoint` so that the trainer calls it after
    the module has logged the epoch's loss. With ``restore``, puts them back into the
    encoder when the fit ends, inside the training process (so that a fit in spawned
    processes returns them), and records the epoch in ``UMAPModule.best_epoch``.
    """

    def __init__(self, monitor: str = "loss", restore: bool = True) -> None:
        self.monitor = monitor
        self.restore = restore
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

    def on_fit_end(self, trainer: pl.Trainer, pl_module: UMAPModule) -> None:
        self.restore_into(pl_module)

    def restore_into(self, pl_module: UMAPModule) -> None:
        """Load the best weights into ``pl_module.encoder`` (if ``restore`` and any were kept)."""
        if self.restore and self.best_state is not None:
            pl_module.encoder.load_state_dict(self.best_state)
            pl_module.best_epoch = self.best_epoch


def _watched() -> bool:
    """Whether progress output reaches a person live: a terminal or a Jupyter kernel.

    Lightning's bar writes to standard output, so that is the stream asked.
    """
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty is not None and isatty()) or "ipykernel" in sys.modules


class EpochLines(pl.Callback):
    """Progress for logs: one line on standard output every tenth of the fit.

    Used instead of the progress bar when standard output is not a terminal (a cluster
    job's log, ``make demo > log``), where each refresh of a bar would add a line.

    Parameters
    ----------
    epochs : int
        Epochs in the fit; a line is printed after the first epoch, every
        ``max(1, epochs // 10)`` epochs and after the last.
    """

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.every = max(1, epochs // 10)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        if trainer.global_rank != 0:
            return
        if epoch != 0 and (epoch + 1) % self.every and epoch + 1 != self.epochs:
            return
        metrics = trainer.callback_metrics
        # Numbered as the progress bar numbers them (and history_["epoch"]): from 0.
        values = ", ".join(
            f"{name}={float(metrics[name]):.4g}"
            for name in (*EPOCH_METRICS, THROUGHPUT)
            if name in metrics
        )
        print(f"Epoch {epoch}/{self.epochs - 1}: {values}", flush=True)


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


def training_device(trainer_kwargs: Mapping[str, Any]) -> torch.device:
    """Where neighbours are searched: where training runs, as far as it is known before it.

    CUDA when available, unless the accelerator (``trainer_kwargs`` over
    :data:`TRAINER_DEFAULTS`) says ``'cpu'``.
    """
    options = {**TRAINER_DEFAULTS, **trainer_kwargs}
    on_cpu = str(options.get("accelerator", "auto")).lower() == "cpu"
    return torch.device("cuda") if torch.cuda.is_available() and not on_cpu else torch.device("cpu")


@contextlib.contextmanager
def checkpoint_directory(checkpoint_dir: str | Path | None) -> Iterator[Path]:
    """``checkpoint_dir`` as a Path (created), or a temporary directory removed on exit."""
    if checkpoint_dir is not None:
        path = Path(checkpoint_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="glass_box_umap-") as tmp:
        yield Path(tmp)


def train(module: UMAPModule, checkpoint_dir: Path) -> tuple[dict[str, list[float]], int | None]:
    """Run the Lightning trainer on ``module``, as ``module.config`` says.

    Writes Lightning checkpoints (``best-*.ckpt`` and ``last.ckpt``) and TensorBoard
    event files under ``checkpoint_dir``. With ``restore_best_weights``, the encoder
    ends with the weights of the lowest-loss epoch. The config's ``trainer_kwargs``
    (checked by :func:`check_trainer_kwargs` beforehand) override
    :data:`TRAINER_DEFAULTS` (``accelerator='auto'``, ``devices=1``). With
    ``strategy='ddp'`` every process runs the caller's script, and each returns with the
    same trained weights.

    Returns
    -------
    history : dict of lists
        Per-epoch ``epoch``, ``loss``, ``attraction``, ``repulsion``, ``edges_per_s``,
        ``time`` (seconds since the start of training) and ``lr``.
    best_epoch : int or None
        The epoch whose weights the encoder holds when ``restore_best_weights``.
    """
    config = module.config
    epochs, quiet = config.epochs, config.quiet
    options = {**TRAINER_DEFAULTS, **config.trainer_kwargs}
    best = BestWeights(restore=config.restore_best_weights)
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
    # A live bar where someone watches it; in a log file every refresh would be a line.
    live_bar = not quiet and _watched()
    progress = [] if quiet or live_bar else [EpochLines(epochs)]
    with _quiet_lightning(quiet):
        trainer = pl.Trainer(
            max_epochs=epochs,
            logger=logger,
            callbacks=[best, checkpoint, *progress, *config.extra_callbacks],
            enable_progress_bar=live_bar,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            default_root_dir=str(checkpoint_dir),
            **options,
        )
        try:
            trainer.fit(module)
        except SystemExit:
            # Lightning turns Ctrl-C (KeyboardInterrupt) into SystemExit after a graceful
            # shutdown; the weights so far are still worth keeping.
            if not trainer.interrupted:
                raise
            module.interrupted = True
            best.restore_into(module)
    fold_batch_rms(module.encoder)
    restore_prelu(module.encoder)
    return module.history, module.best_epoch
