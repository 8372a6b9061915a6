"""Exact per-feature contributions of a locally linear network.

For a network that is positively homogeneous of degree one (bias-free linear and
convolution layers, PReLU/ReLU), ``f(x) = J(x) x`` holds exactly, so
``C[i, k, j] = J(x_i)[k, j] * x_i[j]`` sums over ``j`` to ``f(x_i)[k]``.

In eval mode the samples of a batch do not interact, so the gradient of
``f(X)[:, k].sum()`` with respect to ``X`` is row ``k`` of every sample's Jacobian at
once: ``n_components`` backward passes give the whole batch's Jacobians.
"""

from __future__ import annotations

import torch
from torch import nn


def batch_jacobian(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Jacobians of ``model`` at every row of ``x``.

    Parameters
    ----------
    model : nn.Module
        In eval mode; samples must not interact (no batch statistics).
    x : Tensor of shape (n, *input_shape)

    Returns
    -------
    jacobian : Tensor of shape (n, n_components, *input_shape)
    output : Tensor of shape (n, n_components)
        ``model(x)``, from the same forward pass.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = model(x)
        n_components = out.shape[1]
        rows = []
        for k in range(n_components):
            (grad,) = torch.autograd.grad(out[:, k].sum(), x, retain_graph=k < n_components - 1)
            rows.append(grad)
    return torch.stack(rows, dim=1), out.detach()


def contributions(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature contributions ``J(x)[k, j] * x[j]`` and the output they sum to.

    Parameters
    ----------
    model : nn.Module
        Locally linear, in eval mode.
    x : Tensor of shape (n, *input_shape)

    Returns
    -------
    contributions : Tensor of shape (n, n_components, *input_shape)
    output : Tensor of shape (n, n_components)
    """
    jac, out = batch_jacobian(model, x)
    return jac * x.detach().unsqueeze(1), out
