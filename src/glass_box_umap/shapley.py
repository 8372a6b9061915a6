"""Exact baseline Shapley values, by enumerating every coalition of features.

The reference against which any attribution of ``f(x) - f(r)`` can be scored. A
coalition ``S`` of the ``d`` features is the point ``x_S`` that takes the features in
``S`` from ``x`` and the others from the baseline ``r``; its value is ``v(S) = f(x_S)``.
The baseline Shapley value of feature ``j`` (Sundararajan and Najmi, "The many Shapley
values for model explanation", 2020) is its marginal contribution averaged over every
order in which the features could be switched from ``r`` to ``x``:

    phi_j = sum_{S not holding j} |S|! (d - |S| - 1)! / d! * (v(S + j) - v(S)),

and the values add up exactly: ``sum_j phi_j = f(x) - f(r)`` (efficiency).

Written over coalitions rather than pairs, ``phi = M^T v``: ``M[S, j]`` is
``w(|S| - 1)`` when ``j`` is in ``S`` and ``-w(|S|)`` when it is not, with
``w(s) = s! (d - s - 1)! / d!``. So one batch of ``2^d`` forward passes per sample and a
matrix product give all ``d`` values for every output component, with no approximation:
no sampled coalitions, no regression (KernelSHAP estimates the same numbers from a sample
of the coalitions; it finds them exactly when it is given all of them).

Unlike :func:`glass_box_umap.paths.path_contributions` the module may be any function of
its input (smooth, with biases, not piecewise linear): only its values at the corners of
the box between ``r`` and ``x`` are used. The cost is exponential: ``2^d`` rows per
sample, which :func:`baseline_shapley` refuses beyond ``max_features`` (16 by default:
65,536 rows per sample) with :class:`TooManyFeaturesError`.

For a linear map every marginal contribution of ``j`` is ``W[:, j] (x_j - r_j)``, so the
Shapley values are the exact contributions. For a piecewise-linear map they differ where
the coalitions ``x_S`` lie in other linear pieces than the straight path from ``r`` to
``x``: a Shapley value averages feature ``j``'s effect over those pieces, the path
attribution integrates it along the path only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validation import check_samples_and_baseline, resolve_dtype
from .model import in_dtype, module_device

#: Features beyond which :func:`baseline_shapley` refuses to enumerate, by default.
MAX_FEATURES = 16


class TooManyFeaturesError(ValueError):
    """Exact Shapley values were asked for more features than ``max_features`` allows.

    Enumerating the coalitions of ``d`` features takes ``2^d`` forward passes per sample.
    """


def coalition_weights(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Every coalition of ``n_features`` features and the weights that turn values into Shapley.

    Parameters
    ----------
    n_features : int
        ``d``, at least 1.

    Returns
    -------
    members : ndarray of shape (2^d, d), bool
        ``members[s, j]``: feature ``j`` is in coalition ``s`` (bit ``j`` of ``s``).
        Coalition 0 is the empty one (the baseline), coalition ``2^d - 1`` holds every
        feature (the sample).
    weights : ndarray of shape (2^d, d), float64
        ``M`` of the module docstring: ``phi[:, j] = v.T @ weights[:, j]`` for the
        coalitions' values ``v`` of shape (2^d, n_components). Each column sums to 0;
        their sum over features is +1 at the full coalition, -1 at the empty one and 0
        elsewhere (efficiency).
    """
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)):
        raise ValueError(f"n_features: expected an integer >= 1, got {n_features!r}")
    if n_features < 1:
        raise ValueError(f"n_features: expected an integer >= 1, got {n_features!r}")
    d = int(n_features)
    coalitions = np.arange(2**d, dtype=np.int64)
    members = (coalitions[:, None] >> np.arange(d)) & 1 == 1
    size = members.sum(1)
    # w(s) = s! (d - s - 1)! / d! = 1 / (d * C(d - 1, s)), for s = 0 .. d - 1.
    w = np.array([1.0 / (d * math.comb(d - 1, s)) for s in range(d)])
    joined = w[np.clip(size - 1, 0, d - 1)][:, None]  # j is in S: weight of S - j
    apart = w[np.clip(size, 0, d - 1)][:, None]  # j is not in S: weight of S
    return members, np.where(members, joined, -apart)


def _check(
    module: Any, X: Any, baseline: Any, dtype: Any, batch_size: Any, max_features: Any
) -> tuple[torch.dtype, torch.Tensor, torch.Tensor]:
    """The arguments of :func:`coalition_values` checked; dtype, X and baseline as tensors."""
    torch_dtype = resolve_dtype(dtype)
    for name, value in (("batch_size", batch_size), ("max_features", max_features)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected an nn.Module, got {type(module).__name__}")
    x, r = check_samples_and_baseline(X, baseline)
    d = math.prod(x.shape[1:])
    if d > max_features:
        raise TooManyFeaturesError(
            f"max_features: exact Shapley values of {d} features need 2^{d} forward passes "
            f"per sample, more than max_features={max_features} allows (2^{max_features}); "
            "raise max_features if that is affordable, or estimate them (shap's "
            "KernelExplainer with the baseline as its only background row)"
        )
    if d == 0:
        raise ValueError(f"X: expected at least one feature, got shape {tuple(x.shape)}")
    return torch_dtype, x, r


def _values_in_batches(
    module: nn.Module,
    x: torch.Tensor,
    r: torch.Tensor,
    members: torch.Tensor,
    torch_dtype: torch.dtype,
    batch_size: int,
) -> Iterator[torch.Tensor]:
    """Coalition values of consecutive groups of samples, each (g, 2^d, n_components)."""
    n, input_shape = x.shape[0], tuple(x.shape[1:])
    n_coalitions, d = members.shape
    model = in_dtype(module, torch_dtype)
    per_pass = max(1, int(batch_size) // n_coalitions)
    flat_x = x.reshape(n, d).to(device=members.device, dtype=torch_dtype)
    flat_r = r.reshape(r.shape[0], d).to(device=members.device, dtype=torch_dtype).expand(n, d)
    with torch.no_grad():
        for start in range(0, n, per_pass):
            xs, rs = flat_x[start : start + per_pass], flat_r[start : start + per_pass]
            rows = torch.where(members, xs[:, None], rs[:, None])  # (g, 2^d, d)
            out = model(rows.reshape(-1, *input_shape))
            if out.ndim != 2 or out.shape[0] != rows.shape[0] * n_coalitions:
                raise ValueError(
                    f"module: expected an output of shape ({rows.shape[0] * n_coalitions}, "
                    f"n_components), got {tuple(out.shape)}"
                )
            yield out.reshape(rows.shape[0], n_coalitions, -1)


def coalition_values(
    module: nn.Module,
    X: Any,
    baseline: Any,
    *,
    dtype: str | torch.dtype = torch.float32,
    batch_size: int = 65_536,
    max_features: int = MAX_FEATURES,
) -> np.ndarray:
    """``module`` at every corner ``x_S`` of the box between each sample and its baseline.

    Parameters
    ----------
    module, X, baseline, dtype, batch_size, max_features
        As for :func:`baseline_shapley`.

    Returns
    -------
    values : ndarray of shape (n_samples, 2^d, n_components), ``dtype``
        ``values[i, s] = module(x_S)`` for the coalition ``S`` of the features whose bits
        are set in ``s`` (``members[s]`` of :func:`coalition_weights`): those features from
        ``X[i]``, the others from the baseline. ``values[i, 0]`` is the baseline's output,
        ``values[i, -1]`` the sample's. Marginal contributions of feature ``j`` are
        ``values[:, s | 2^j] - values[:, s]`` for the ``s`` without bit ``j``.

    Raises
    ------
    TooManyFeaturesError, ValueError, TypeError
        As for :func:`baseline_shapley`.
    """
    torch_dtype, x, r = _check(module, X, baseline, dtype, batch_size, max_features)
    members, _ = coalition_weights(math.prod(x.shape[1:]))
    members_t = torch.as_tensor(members, device=module_device(module))
    chunks = _values_in_batches(module, x, r, members_t, torch_dtype, batch_size)
    return torch.cat([v.cpu() for v in chunks]).numpy()


def baseline_shapley(
    module: nn.Module,
    X: Any,
    baseline: Any,
    *,
    dtype: str | torch.dtype = torch.float32,
    batch_size: int = 65_536,
    max_features: int = MAX_FEATURES,
) -> np.ndarray:
    """Exact baseline Shapley values of ``module(X) - module(baseline)``, for every feature.

    ``phi[i, k, j]`` is feature ``j``'s Shapley value for output component ``k`` of sample
    ``i``, against the coalition game ``v(S) = module(x_S)`` in which the features out of
    ``S`` take the baseline's values (module docstring). Every one of the ``2^d``
    coalitions is evaluated: exact, not sampled. The values sum over the features to
    ``module(X)[i, k] - module(baseline)[i, k]``, to float rounding of the forward passes
    (the weighted sum itself is accumulated in float64).

    Parameters
    ----------
    module : nn.Module
        Maps a batch of shape (n, *input_shape) to (n, n_components); samples must not
        interact (it is run in eval mode, on a copy in ``dtype``, on the device of its
        parameters). Any function of its input: smoothness or biases do not matter.
        :func:`glass_box_umap.paths.fitted_map` gives one for a fitted
        :class:`~glass_box_umap.GlassBoxUMAP` that takes raw samples.
    X : array-like or Tensor of shape (n_samples, *input_shape)
    baseline : array-like or Tensor of shape input_shape or (n_samples, *input_shape)
        The reference: one for every sample (the training mean, say), or one per sample.
    dtype : {'float32', 'float64'} or torch.dtype, default torch.float32
        Precision of the forward passes.
    batch_size : int, default 65_536
        Rows per forward pass: ``max(1, batch_size // 2^d)`` samples' coalitions at once
        (one sample's ``2^d`` rows when ``2^d > batch_size``).
    max_features : int, default 16
        Largest ``d = prod(input_shape)`` enumerated; beyond it the ``2^d`` rows per
        sample are refused rather than attempted.

    Returns
    -------
    phi : ndarray of shape (n_samples, n_components, *input_shape), ``dtype``

    Raises
    ------
    TooManyFeaturesError
        A ``ValueError``, naming ``max_features``, when ``d > max_features``.
    ValueError
        Naming ``X``, ``baseline`` (a shape that is neither input_shape nor X's, NaN or
        infinity), ``dtype``, ``batch_size``, ``max_features`` or ``module`` (an output
        that is not (n, n_components)).
    TypeError
        ``module`` is not an ``nn.Module``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> relu = nn.Sequential(nn.Linear(3, 1, bias=False), nn.ReLU())
    >>> _ = relu[0].weight.data.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
    >>> phi = baseline_shapley(relu, [[1.0, 2.0, 1.0]], [0.0, 0.0, 0.0], dtype="float64")
    >>> phi.shape
    (1, 1, 3)
    >>> [round(float(v), 6) for v in phi[0, 0] * 6]  # 5/6, 11/6, -2/3: they sum to f(x) = 2
    [5.0, 11.0, -4.0]
    """
    torch_dtype, x, r = _check(module, X, baseline, dtype, batch_size, max_features)
    n, input_shape = x.shape[0], tuple(x.shape[1:])
    members, weights = coalition_weights(math.prod(input_shape))
    device = module_device(module)
    members_t = torch.as_tensor(members, device=device)
    weights_t = torch.as_tensor(weights, device=device)
    phi = [
        torch.einsum("gsk,sj->gkj", v.double(), weights_t).to(torch_dtype).cpu()
        for v in _values_in_batches(module, x, r, members_t, torch_dtype, batch_size)
    ]
    return torch.cat(phi).reshape(n, -1, *input_shape).numpy()


__all__ = [
    "MAX_FEATURES",
    "TooManyFeaturesError",
    "baseline_shapley",
    "coalition_values",
    "coalition_weights",
]
