"""Lightning callbacks we ship for watching a fit unfold.

Pass them in ``extra_callbacks``; they fill their own attributes during ``fit``::

    snaps = EmbeddingSnapshots(X, every_n_epochs=10, labels=y)
    GlassBoxUMAP(extra_callbacks=[snaps]).fit(X)
    plot_training(snaps)
    snaps.save_animation("training.gif")
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from . import _validation as check


class EmbeddingSnapshots(pl.Callback):
    """Records the embedding of (a subsample of) ``X`` while the encoder trains.

    A snapshot is taken before the first step (epoch 0), after every
    ``every_n_epochs``-th epoch, and after the last epoch. Each costs one forward pass
    over at most ``n_samples`` points and one copy to the host.

    Parameters
    ----------
    X : array-like of shape (n, n_features) or (n, \\*input_shape)
        Data to embed, in the same feature space as the data being fitted (images of
        shape (n, C, H, W) for an image encoder; they may also be given flattened).
    every_n_epochs : int, default 10
        Epochs between snapshots.
    labels : array-like of shape (n,), optional
        Kept (subsampled like ``X``) to colour the panels of
        :func:`~glass_box_umap.plotting.plot_training`.
    n_samples : int or None, default 1000
        Rows of ``X`` to follow; a seeded uniform subsample when ``X`` has more.
        ``None`` follows every row.
    random_state : int, default 0
        Seed of the subsample.
    log_images : bool, default False
        Also write each snapshot as an image to the trainer's TensorBoard logger
        (tag ``embedding``). Rendering a figure costs far more than the forward pass, so
        this is off by default (``python benchmarks/snapshot_overhead.py`` prints the cost).
    live : bool, default False
        In a Jupyter notebook, redraw the latest snapshot and the loss curve so far in
        the cell's output, in place, at every snapshot (IPython's display handles: no
        server, no thread, nothing left running after ``fit``). Each redraw renders a
        figure (``python benchmarks/snapshot_overhead.py`` prints what a redraw costs).
        Outside a notebook it warns once and only records.

    Attributes
    ----------
    epochs_ : list of int
        Completed epochs at each snapshot (0 = before training).
    embeddings_ : list of ndarray of shape (m, n_components), float32
        One embedding per snapshot.
    indices_ : ndarray of shape (m,), int
        Rows of ``X`` that are followed.
    labels_ : ndarray of shape (m,) or None
        ``labels`` at those rows.
    history_ : dict of lists
        The fit's per-epoch history (loss, attraction, repulsion, ...), for the loss curve.
    """

    def __init__(
        self,
        X: Any,
        every_n_epochs: int = 10,
        labels: Any = None,
        n_samples: int | None = 1000,
        random_state: int = 0,
        log_images: bool = False,
        live: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(X, (np.ndarray, torch.Tensor)) and X.ndim > 2:
            # Images: validated and kept flat; the fit's input transform restores the shape.
            X = X.reshape(X.shape[0], -1)
        self.X = check.check_array(X)
        self.every_n_epochs = check.check_int("every_n_epochs", every_n_epochs, 1)
        n = self.X.shape[0]
        self.n_samples = None if n_samples is None else check.check_int("n_samples", n_samples, 1)
        self.random_state = check.check_int("random_state", random_state, 0, 2**32 - 1)
        self.log_images = check.check_bool("log_images", log_images)
        self.live = check.check_bool("live", live)
        self._display = None
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (n,):
                raise ValueError(f"labels: expected shape ({n},), got {labels.shape}")
        if self.n_samples is None or self.n_samples >= n:
            self.indices_ = np.arange(n)
        else:
            rng = np.random.default_rng(self.random_state)
            self.indices_ = np.sort(rng.choice(n, size=self.n_samples, replace=False))
        self.labels_ = None if labels is None else labels[self.indices_]
        self.epochs_: list[int] = []
        self.embeddings_: list[np.ndarray] = []
        self.history_: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Prepare the followed samples as the encoder will read them (a Lightning hook).

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer of the fit.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        transform = getattr(pl_module, "input_transform", None)
        if transform is None:
            raise TypeError(
                "EmbeddingSnapshots: the module being trained has no input_transform; "
                "use it through GlassBoxUMAP(extra_callbacks=[...])"
            )
        self._inputs = transform(self.X[self.indices_]).to(pl_module.device)
        self.epochs_, self.embeddings_, self.history_ = [], [], {}
        self._display = _notebook_display() if self.live else None
        self._snapshot(trainer, pl_module, epoch=0)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Take a snapshot every ``every_n_epochs`` epochs and after the last (a Lightning hook).

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer of the fit.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        done = pl_module.current_epoch + 1
        if done % self.every_n_epochs == 0 or done == trainer.max_epochs:
            self._snapshot(trainer, pl_module, epoch=done)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Keep the fit's history and release the inputs (a Lightning hook).

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer of the fit.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        history = getattr(pl_module, "history", {})
        self.history_ = {k: list(v) for k, v in history.items()}
        self._inputs = None
        self._display = None

    def _snapshot(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int) -> None:
        if self.epochs_ and self.epochs_[-1] == epoch:
            return
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            emb = pl_module(self._inputs).float().cpu().numpy()
        pl_module.train(was_training)
        self.epochs_.append(epoch)
        self.embeddings_.append(emb)
        if self.log_images and isinstance(trainer.logger, TensorBoardLogger):
            from .plotting.training import snapshot_figure

            fig = snapshot_figure(emb, self.labels_, title=f"epoch {epoch}")
            trainer.logger.experiment.add_figure("embedding", fig, global_step=epoch)
        if self._display is not None:
            from .plotting.training import live_figure

            history = getattr(pl_module, "history", {})
            self._display.update(live_figure(emb, self.labels_, epoch, history))

    # ------------------------------------------------------------------ output
    def save_animation(self, path: str | Path, fps: float = 4.0, dpi: int = 80) -> Path:
        """Write an animation that steps through the snapshots.

        Parameters
        ----------
        path : str or Path
            ``.gif`` (Pillow) or ``.html`` (self-contained JavaScript player).
        fps : float, default 4
            Frames (snapshots) per second.
        dpi : int, default 80
            Resolution of the 8 x 4 inch frames: 640 x 320 pixels at the default.

        Returns
        -------
        Path
            The file written.
        """
        from .plotting.training import save_animation

        return save_animation(self, path, fps=fps, dpi=dpi)

    def __len__(self) -> int:
        return len(self.epochs_)

    def __repr__(self) -> str:
        return (
            f"EmbeddingSnapshots(n_samples={len(self.indices_)}, "
            f"every_n_epochs={self.every_n_epochs}, snapshots={len(self.epochs_)})"
        )


class _LiveDisplay:
    """One output area of a notebook cell, replaced by each new figure."""

    def __init__(self, display: Any) -> None:
        self._show = display
        self._handle = None

    def update(self, fig: Any) -> None:
        if self._handle is None:
            self._handle = self._show(fig, display_id=True)
        else:
            self._handle.update(fig)


def _notebook_display() -> _LiveDisplay | None:
    """A live output area when running in a Jupyter kernel; else warn once and return None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        shell = None
    else:
        shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        warnings.warn(
            "live: needs a Jupyter notebook (an IPython kernel); snapshots are recorded, "
            "not shown. Draw them after fit with plot_training(snapshots)",
            UserWarning,
            stacklevel=3,
        )
        return None
    return _LiveDisplay(display)
