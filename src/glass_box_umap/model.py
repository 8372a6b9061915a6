"""The fitted map: training mean, optional PCA projection and encoder, in one module.

``GlassBoxMap`` is what a fit produces and what the estimator, model files and the
exactness checker share. A raw sample ``x`` of shape ``input_shape`` lands at

    f(x) = encoder(P (x - mean) / scale)

(``P`` the optional PCA projection, for flat input only; ``scale`` one positive number,
the root mean square of the training data's encoder inputs, so that the encoder sees
inputs of unit size whatever the units of ``X``: see ``input_scale``). The encoder,
``P`` and the scale hold no offsets and the encoder is piecewise linear, so
``f(x) = J(x) (x - mean)`` exactly: the
contributions ``J(x)[k, j] (x - mean)[j]`` sum to the embedding, and explain where a
sample lands relative to where the mean sample does (the origin).

The module's ``forward`` takes *centred* samples, so that it is a bias-free map and any
exactness tool applies to it as it is; :meth:`GlassBoxMap.batches` centres raw arrays,
in float64, chunk by chunk, before handing them to it. Loading a model and explaining
with it needs only this module: nothing here imports Lightning.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import torch
from torch import nn

from . import _validation as check
from .affinity import EdgeList
from .attribution import batch_jacobian, contributions

#: Inference batches are padded to at least this many rows; see :meth:`GlassBoxMap.batches`.
MIN_ROWS = 16
#: Rows of sparse input densified at a time.
DENSE_CHUNK = 16_384
#: Smallest deviation from the mean that the largest one may have at fit: below it, the
#: deviations that matter at float32 precision (down to 2**-24 of the largest) are
#: subnormal in float32 and lose bits, or become 0.
SMALLEST_DEVIATION = 2.0**-102


def dense_rows(X: Any) -> np.ndarray:
    """``X`` (a slice of rows) as a dense ndarray; callers slice sparse input in chunks."""
    return X.toarray() if scipy.sparse.issparse(X) else X


def in_dtype(module: nn.Module, dtype: torch.dtype, *, always_copy: bool = False) -> nn.Module:
    """``module`` in ``dtype`` and eval mode, as a copy: ``module`` itself is never modified.

    Returns ``module`` itself when it already is in eval mode and in ``dtype`` (floating
    parameters and buffers), unless ``always_copy``.
    """
    floats = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    if not always_copy and not module.training and all(t.dtype == dtype for t in floats):
        return module
    return copy.deepcopy(module).to(dtype).eval()


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); the CPU when it has none."""
    tensor = next(module.parameters(), None)
    if tensor is None:
        tensor = next(module.buffers(), None)
    return torch.device("cpu") if tensor is None else tensor.device


def encoder_input_dims(
    input_shape: tuple[int, ...], n_projected: int | None = None
) -> int | tuple[int, ...]:
    """What an encoder is built for (its ``input_dims``): the per-sample shape of N-D
    samples, else the number of features, or of PCA axes when they project the input."""
    if len(input_shape) > 1:
        return tuple(input_shape)
    return n_projected if n_projected is not None else input_shape[0]


def input_scale(inputs: torch.Tensor) -> float:
    """The scale that makes ``inputs`` of unit size: their root mean square, or 1 if all are 0.

    UMAP's graph does not depend on the units of ``X``, but a bias-free encoder is
    positively homogeneous (``f(c x) = c f(x)``), so the units of its inputs would become
    the units of the embedding, where the similarity curve (``min_dist``, ``a``, ``b``)
    lives in absolute terms: digits in units 10,000 times larger embedded with
    trustworthiness 0.60 instead of 0.985. Dividing by this scale removes the units. For
    standardised features it is about 1 (exactly 1 without constant features and PCA).

    The sum of squares is taken in float64 over the float32 inputs, so that for
    ``c`` a power of two ``input_scale(c * inputs) == c * input_scale(inputs)`` exactly,
    and ``fit(c * X)`` equals ``fit(X)`` bit for bit (without PCA).

    Parameters
    ----------
    inputs : Tensor of shape (n, ...)
        The centred (and projected) encoder inputs, before scaling.

    Returns
    -------
    float
        Positive and finite.
    """
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, inputs.shape[0], DENSE_CHUNK):
        total += inputs[start : start + DENSE_CHUNK].double().square().sum()
    scale = math.sqrt(float(total) / max(inputs.numel(), 1))
    return scale if scale > 0 and math.isfinite(scale) else 1.0


class GlassBoxMap(nn.Module):
    """Centring, optional PCA projection, input scale and encoder: the whole fitted map.

    Parameters
    ----------
    encoder : nn.Module
        Bias-free and piecewise linear; maps (n, \\*encoder input shape) to
        (n, n_components).
    mean : array-like of shape input_shape
        The training mean, subtracted from every sample (kept in float64 on the CPU
        whatever dtype the module is cast to: centring is always done in float64).
    projection : Tensor of shape (n_projected, n_features) or None
        PCA axes, applied after centring (flat input only). Stored in float32, the
        precision the encoder was trained on.
    scale : float, default 1.0
        Positive; the encoder reads the centred (and projected) samples divided by it
        (``input_scale``). Models saved before the scale existed have 1.

    Attributes
    ----------
    input_shape : tuple of int
        Shape of one raw sample: ``(n_features,)`` or ``(C, H, W)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        mean: Any,
        projection: torch.Tensor | None = None,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        scale = float(scale)
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale: must be positive and finite, got {scale!r}")
        self.encoder = encoder
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float64))
        self.input_shape = tuple(int(d) for d in self.mean.shape)
        if projection is not None:
            # Contiguous whatever order the PCA gave (scikit-learn's components_ can be
            # Fortran-ordered): BLAS sums a transposed view in another order, and a
            # loaded model, whose projection is contiguous, would differ in the last bit.
            projection = torch.as_tensor(projection, dtype=torch.float32).contiguous()
            if len(self.input_shape) != 1 or projection.shape[1] != self.input_shape[0]:
                raise ValueError(
                    f"projection: of shape {tuple(projection.shape)} does not fit samples of "
                    f"shape {self.input_shape}"
                )
        self.register_buffer("projection", projection)
        # float64 in the state dict (and so in model files); cast to the input's dtype.
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float64))

    def _apply(self, fn: Any, recurse: bool = True) -> GlassBoxMap:
        # ``.double()``, ``.float()``, ``.to(...)`` convert the encoder and the projection;
        # the mean stays the float64 CPU array that centring in numpy reads, and the
        # scale a float64 number that forward casts to the input's dtype.
        kept = {name: self._buffers.pop(name) for name in ("mean", "scale")}
        try:
            super()._apply(fn, recurse)
        finally:
            self._buffers.update(kept)
        return self

    # ------------------------------------------------------------------ tensors
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed *centred* samples.

        Parameters
        ----------
        x : Tensor of shape (n, \\*input_shape)
            Samples minus ``mean``, in the map's dtype.

        Returns
        -------
        Tensor of shape (n, n_components)
            Their embedding.
        """
        return self.encoder(self._scaled(x))

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder inputs of centred ``x``: projected, then divided by the scale."""
        if self.projection is not None:
            x = x @ self.projection.T
        return x / self.scale.to(dtype=x.dtype, device=x.device)

    def jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Jacobians and outputs of the map at centred samples.

        The encoder's Jacobian (its closed form where it has one) times the projection,
        divided by the scale: the chain rule maps it back to the original features
        exactly.

        Parameters
        ----------
        x : Tensor of shape (n, \\*input_shape)
            Samples minus ``mean``.

        Returns
        -------
        jacobian : Tensor of shape (n, n_components, \\*input_shape)
            The Jacobian at each sample, in the original features.
        output : Tensor of shape (n, n_components)
            The embedding of each sample.
        """
        inv_scale = 1.0 / self.scale.to(dtype=x.dtype, device=x.device)
        jac, out = batch_jacobian(self.encoder, self._scaled(x.detach()).detach())
        if self.projection is not None:
            jac = jac @ self.projection
        return jac * inv_scale, out

    # ------------------------------------------------------------------ arrays
    def check_input(self, X: Any, owner: str = "GlassBoxMap") -> Any:
        """``X`` validated for this map.

        Parameters
        ----------
        X : array-like or sparse matrix
            Samples of shape ``input_shape`` each.
        owner : str, default "GlassBoxMap"
            The name errors give as the caller.

        Returns
        -------
        ndarray or scipy.sparse.csr_matrix
            ``X`` as (n_samples, n_features) float64 (CSR for sparse input).

        Raises
        ------
        ValueError
            Naming ``X`` and ``owner``, when its samples are not of shape ``input_shape``.
        """
        X, input_shape = check.check_samples(X)
        expected = self.input_shape
        if len(input_shape) == len(expected) == 1 and input_shape != expected:
            raise ValueError(
                f"X has {input_shape[0]} features, but {owner} is expecting {expected[0]} "
                "features as input"
            )
        if input_shape != expected:
            raise ValueError(
                f"X: samples of shape {input_shape}, but {owner} was fitted on samples of "
                f"shape {expected}"
            )
        return X

    def prepare(self, X: Any) -> torch.Tensor:
        """What the encoder sees: ``X`` centred, then projected, then scaled, in float32.

        Built chunk by chunk, so that neither a float64 copy of ``X`` nor a dense copy
        of sparse ``X`` exists at once (with a projection, only the projected inputs do).

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n, n_features), or ndarray (n, \\*input_shape)
            Raw samples (not centred), flattened or in the shape the model was fitted on.

        Returns
        -------
        Tensor of shape (n, \\*input_shape), or (n, n_projected) with a projection, float32
            The encoder's inputs: each sample minus the training mean, projected onto the
            principal axes when the model has a projection, divided by the input scale.
        """
        if X.ndim > 2 and tuple(X.shape[1:]) == self.input_shape:
            X = X.reshape(X.shape[0], -1)
        mean = self.mean.numpy().reshape(-1)
        if X.shape[1:] != mean.shape:
            raise ValueError(f"X: has {X.shape[1]} features, the model expects {mean.shape[0]}")
        width = mean.shape[0] if self.projection is None else self.projection.shape[0]
        inputs = torch.empty((X.shape[0], width), dtype=torch.float32)
        projection = None if self.projection is None else self.projection.float().cpu()
        largest = 0.0
        for start in range(0, X.shape[0], DENSE_CHUNK):
            rows = slice(start, start + DENSE_CHUNK)
            centred = dense_rows(X[rows]) - mean
            largest = max(largest, float(np.abs(centred).max(initial=0.0)))
            chunk = torch.as_tensor(centred, dtype=torch.float32)
            inputs[rows] = chunk if projection is None else chunk @ projection.T
        if not torch.isfinite(inputs).all():
            raise ValueError(
                "X: values so large that centring them overflows float32; rescale the features"
            )
        if 0.0 < largest < SMALLEST_DEVIATION:
            # Cast to float32 before the input scale divides them, such deviations are
            # subnormal (or 0): 1e-40 data embedded at exactly 0 with no error.
            raise ValueError(
                f"X: values so small that float32 cannot hold them (largest deviation from "
                f"the mean {largest:.3g}, below {SMALLEST_DEVIATION:.3g}); rescale the "
                "features (the embedding does not depend on the units of X)"
            )
        # The same float32 operations as forward's, so that training sees its inputs.
        inputs /= self.scale.to(torch.float32)
        return inputs if projection is not None else inputs.view(-1, *self.input_shape)

    def batches(
        self, X: Any, dtype: torch.dtype = torch.float32, batch_size: int = 10_000
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """Centred chunks of ``X`` as tensors: ``(n_rows, x)`` with ``x`` padded to ``MIN_ROWS``.

        ``X`` is (n, n_features) (dense or sparse) or (n, \\*input_shape). Each chunk
        is centred in float64, then cast to ``dtype``, and holds at most ``batch_size``
        samples. CPU BLAS switches to other kernels (another summation order) for
        matrices of fewer than about a dozen rows, so a sample's embedding would change
        in the last bit with the size of its batch; zero rows embed at exactly zero, and
        with them ``embed(X)[idx] == embed(X[idx])``. Keep the first ``n_rows`` rows of
        what you compute from ``x``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, n_features) or (n, \\*input_shape)
            Raw samples.
        dtype : torch.dtype, default torch.float32
            The chunks' dtype.
        batch_size : int, default 10000
            Most samples per chunk.

        Yields
        ------
        n_rows : int
            The number of real samples in the chunk.
        x : Tensor of shape (max(n_rows, MIN_ROWS), \\*input_shape)
            The centred chunk, padded with zero rows.
        """
        size = max(int(batch_size), MIN_ROWS)
        mean = self.mean.numpy().reshape(-1)
        for start in range(0, X.shape[0], size):
            chunk = X[start : start + size]
            chunk = chunk.reshape(chunk.shape[0], -1) if chunk.ndim > 2 else dense_rows(chunk)
            x = torch.as_tensor(chunk - mean, dtype=dtype).view(-1, *self.input_shape)
            n_rows = x.shape[0]
            if n_rows < MIN_ROWS:
                x = torch.cat([x, x.new_zeros((MIN_ROWS - n_rows, *x.shape[1:]))])
            yield n_rows, x

    def embed(self, X: Any, batch_size: int = 10_000) -> np.ndarray:
        """The embedding of raw samples.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, n_features) or (n, \\*input_shape)
            Raw samples (not centred).
        batch_size : int, default 10000
            Samples per forward pass.

        Returns
        -------
        ndarray of shape (n, n_components), float32
            Their embedding.
        """
        model = in_dtype(self, torch.float32)
        with torch.inference_mode():
            pieces = [model(x)[:n].numpy() for n, x in self.batches(X, torch.float32, batch_size)]
        return np.concatenate(pieces)

    def contributions(
        self,
        X: Any,
        dtype: torch.dtype = torch.float32,
        reduction: str | None = None,
        batch_size: int = 10_000,
    ) -> np.ndarray:
        """Exact per-feature contributions ``J(x)[k, j] (x - mean)[j]`` of raw samples ``X``.

        Parameters
        ----------
        X : array-like of shape (n, \\*input_shape)
            Raw samples (not centred).
        dtype : torch.float32 or torch.float64, default torch.float32
            The dtype the map is evaluated in, and the dtype of the result.
        reduction : {None, 'l2'}
            ``'l2'``: the Euclidean norm over embedding axes, one magnitude per feature.
        batch_size : int, default 10000
            Most samples per evaluation.

        Returns
        -------
        ndarray of shape (n, n_components, \\*input_shape) or (n, \\*input_shape)
            The contributions, in ``dtype``; the second shape for ``reduction='l2'``.
            Summed over features they give :meth:`embed` (float32) or the float64
            forward pass (float64, to about 1e-12 relative).
        """
        if reduction not in (None, "l2"):
            raise ValueError(f"reduction: expected None or 'l2', got {reduction!r}")
        model = in_dtype(self, dtype)
        pieces = []
        for n, x in self.batches(X, dtype, batch_size):
            contrib = contributions(model, x)[0][:n]
            if reduction == "l2":
                contrib = torch.linalg.vector_norm(contrib, dim=1)
            pieces.append(contrib.numpy())
        return np.concatenate(pieces)

    def compute_jacobian(
        self, X: Any, dtype: torch.dtype = torch.float32, batch_size: int = 10_000
    ) -> np.ndarray:
        """Jacobians of the map at raw samples.

        Row-wise products with the centred samples are :meth:`contributions`.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, n_features) or (n, \\*input_shape)
            Raw samples (not centred).
        dtype : torch.dtype, default torch.float32
            The dtype the map is evaluated in.
        batch_size : int, default 10000
            Samples per evaluation.

        Returns
        -------
        ndarray of shape (n, n_components, \\*input_shape)
            The Jacobian at each sample, in ``dtype``.
        """
        model = in_dtype(self, dtype)
        return np.concatenate(
            [model.jacobian(x)[0][:n].numpy() for n, x in self.batches(X, dtype, batch_size)]
        )


class RawInputMap(nn.Module):
    """A :class:`GlassBoxMap` that takes raw samples: ``map(x - mean)``, as one module.

    For tools that want a module of the raw features (captum's attributions, KernelSHAP,
    :func:`glass_box_umap.paths.path_contributions` against raw references). The map is
    held, not copied; centring runs in the dtype of ``x`` (``path_contributions``
    centres in float64 before it walks ``map``).

    Shapes
    ------
    input (n, \\*input_shape) -> output (n, n_components).
    """

    def __init__(self, map_: GlassBoxMap) -> None:
        super().__init__()
        self.map = map_

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.map(x - self.map.mean.to(device=x.device, dtype=x.dtype))

    def jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Jacobians (n, n_components, \\*input_shape) and outputs; centring leaves J alone."""
        return self.map.jacobian(x - self.map.mean.to(device=x.device, dtype=x.dtype))


@dataclass(frozen=True, kw_only=True)
class FittedState:
    """Everything a fit leaves behind, as the estimator commits it (from ``fit`` or a file).

    Attributes
    ----------
    map : GlassBoxMap
        On the CPU, in eval mode.
    pca_components : ndarray of shape (n_projected, n_features), float64, or None
    embedding : ndarray of shape (n_samples, n_components), float32
    a, b : float
    history : dict of lists
    best_epoch : int or None
    interrupted : bool
    feature_names : ndarray of shape (n_features,), object, or None
    graph : EdgeList or None
        None for a loaded model (files do not hold the graph).
    """

    map: GlassBoxMap
    pca_components: np.ndarray | None
    embedding: np.ndarray
    a: float
    b: float
    history: dict[str, list[float]]
    best_epoch: int | None
    interrupted: bool = False
    feature_names: np.ndarray | None = None
    graph: EdgeList | None = None


__all__ = [
    "MIN_ROWS",
    "FittedState",
    "GlassBoxMap",
    "RawInputMap",
    "dense_rows",
    "encoder_input_dims",
    "in_dtype",
    "module_device",
]
