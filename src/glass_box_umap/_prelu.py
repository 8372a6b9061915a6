"""PReLU with a faster backward pass on the CPU, swapped in for the length of a fit.

PyTorch's CPU kernel for PReLU's backward pass selects between two branches element by
element and returns the slope's gradient as a full-size tensor that autograd then sums;
on a 1,203 x 128 hidden layer it takes 0.33 ms, against 0.07 ms for the arithmetic
below (a mask from ``sign``, two products and a dot product), and three such layers
run in every step of the default encoder (``python benchmarks/step_kernels.py``).

:class:`TrainingPReLU` computes the same function with the same parameter and the same
gradients (the input's bit for bit; the slope's up to the order of a sum). The fit
swaps it in for every ``nn.PReLU`` of the encoder (:func:`use_training_prelu`) and puts
plain ``nn.PReLU`` modules back at the end (:func:`restore_prelu`), holding the same
trained weights: the shipped map, its state dict and its model file do not change.
"""

from __future__ import annotations

import torch
from torch import nn


class _PReLUFunction(torch.autograd.Function):
    """``torch.prelu(x, weight)`` with the backward pass written out."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return torch.prelu(x, weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        per_channel = weight.numel() > 1
        slope = weight.view(-1, *[1] * (x.ndim - 2)) if per_channel else weight
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            # 1 where x > 0, else 0: a multiply, where a per-element select is slow.
            through = torch.sign(x).clamp_(min=0).mul_(grad)
            grad_x = torch.sub(grad, through).mul_(slope).add_(through)
        if ctx.needs_input_grad[1]:
            below = x.clamp(max=0)
            if per_channel:
                dims = [d for d in range(x.ndim) if d != 1]
                grad_weight = (grad * below).sum(dims)
            else:
                grad_weight = torch.dot(grad.reshape(-1), below.reshape(-1)).reshape(1)
        return grad_x, grad_weight


class TrainingPReLU(nn.PReLU):
    """``nn.PReLU`` whose backward pass on the CPU is :class:`_PReLUFunction`'s.

    Elsewhere (CUDA, where PyTorch's kernel is fused; no gradient; another dtype than
    the slope's, as under autocast) it is ``nn.PReLU`` itself.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type == "cpu"
            and torch.is_grad_enabled()
            and x.dtype == self.weight.dtype
            and (self.weight.numel() == 1 or x.ndim >= 2)
        ):
            return _PReLUFunction.apply(x, self.weight)
        return super().forward(x)


def _swap(encoder: nn.Module, old: type[nn.PReLU], new: type[nn.PReLU]) -> None:
    """Replace every submodule of exactly type ``old`` by a ``new`` holding its weight."""
    for parent in list(encoder.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is old:
                swapped = new(num_parameters=child.num_parameters)
                swapped.weight = child.weight
                swapped.train(child.training)
                setattr(parent, name, swapped)


def use_training_prelu(encoder: nn.Module) -> None:
    """Swap :class:`TrainingPReLU` in for every ``nn.PReLU`` of ``encoder`` (in place).

    Parameters
    ----------
    encoder : nn.Module
        Its PReLU modules keep their parameters (the same ``Parameter`` objects), so an
        optimiser built before or after the swap trains the same tensors.
    """
    _swap(encoder, nn.PReLU, TrainingPReLU)


def restore_prelu(encoder: nn.Module) -> None:
    """Put plain ``nn.PReLU`` modules back where :func:`use_training_prelu` swapped them.

    Parameters
    ----------
    encoder : nn.Module
        Changed in place; its state dict is the same before and after.
    """
    _swap(encoder, TrainingPReLU, nn.PReLU)
