"""Exact per-feature contributions of a locally linear network.

For a network that is positively homogeneous of degree one (bias-free linear and
convolution layers, PReLU/ReLU, pooling, additive skips), ``f(x) = J(x) x`` holds
exactly, so ``C[i, k, j] = J(x_i)[k, j] * x_i[j]`` sums over ``j`` to ``f(x_i)[k]``.

One implementation serves every such encoder: in eval mode the samples of a batch do
not interact, so the gradient of ``f(X)[:, k].sum()`` with respect to ``X`` is row ``k``
of every sample's Jacobian at once, and ``n_components`` backward passes give the whole
batch's Jacobians (no per-sample ``vmap``). An encoder may also offer a closed form as a
``jacobian(x)`` method (the default MLP does, :meth:`MLPEncoder.jacobian`); it is used
when present. Tests check both against ``torch.func.jacrev``.
"""

from __future__ import annotations

import torch
from torch import nn

_METHODS = ("auto", "autograd")


def autograd_jacobian(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Jacobians of ``model`` at every row of ``x`` by ``n_components`` backward passes.

    Parameters
    ----------
    model : nn.Module
        In eval mode; samples must not interact (no batch statistics).
    x : Tensor of shape (n, \\*input_shape)

    Returns
    -------
    jacobian : Tensor of shape (n, n_components, \\*input_shape)
    output : Tensor of shape (n, n_components)
        ``model(x)``, from the same forward pass.
    """
    # Callers may sit in inference mode, whose tensors cannot take part in autograd.
    with torch.inference_mode(False), torch.enable_grad():
        x = (x.clone() if x.is_inference() else x.detach()).requires_grad_(True)
        out = model(x)
        if out.ndim != 2:
            raise ValueError(
                f"model: expected an output of shape (n, n_components), got {tuple(out.shape)}"
            )
        n_components = out.shape[1]
        rows = []
        for k in range(n_components):
            (grad,) = torch.autograd.grad(out[:, k].sum(), x, retain_graph=k < n_components - 1)
            rows.append(grad)
    return torch.stack(rows, dim=1), out.detach()


def batch_jacobian(
    model: nn.Module, x: torch.Tensor, method: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Jacobians of ``model`` at every row of ``x``.

    Parameters
    ----------
    model : nn.Module
        In eval mode; samples must not interact (no batch statistics).
    x : Tensor of shape (n, \\*input_shape)
    method : {'auto', 'autograd'}, default 'auto'
        ``'auto'`` uses the model's closed form ``model.jacobian(x)`` when it has one,
        :func:`autograd_jacobian` otherwise; ``'autograd'`` always the latter.

    Returns
    -------
    jacobian : Tensor of shape (n, n_components, \\*input_shape)
    output : Tensor of shape (n, n_components)
        ``model(x)``, from the same forward pass.
    """
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    closed_form = getattr(model, "jacobian", None)
    if method == "auto" and callable(closed_form):
        return closed_form(x)
    return autograd_jacobian(model, x)


def contributions(
    model: nn.Module, x: torch.Tensor, method: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature contributions ``J(x)[k, j] * x[j]`` and the output they sum to.

    Parameters
    ----------
    model : nn.Module
        Locally linear, in eval mode.
    x : Tensor of shape (n, \\*input_shape)
    method : {'auto', 'autograd'}, default 'auto'
        See :func:`batch_jacobian`.

    Returns
    -------
    contributions : Tensor of shape (n, n_components, \\*input_shape)
    output : Tensor of shape (n, n_components)
    """
    jac, out = batch_jacobian(model, x, method)
    return jac * x.detach().unsqueeze(1), out
