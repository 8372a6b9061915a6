"""A normalisation used only while training, folded into plain weights when the fit ends.

During training each hidden unit of the default MLP (after its PReLU) is divided by its
root mean square over the step's batch, with gradients through the statistic, as batch
normalisation does without a shift or a gain. This changes what the optimiser sees (the
weights before a normalised unit become scale-free, and Adam's fixed step then moves
the map by a fixed relative amount), not what the network can compute: in eval mode the
division is by a running RMS, a constant per unit, and a constant diagonal before a
bias-free ``Linear`` is a rescaling of that layer's columns. :func:`fold_batch_rms` does
that rescaling at the end of the fit and puts the encoder's own layers back, so the map
that is shipped, saved, explained and path-integrated is the plain bias-free PReLU
network of the documented shape, with the state-dict names of any other fit.

On the CPU each PReLU and the normalisation after it run as one autograd function
(:class:`TrainingNet`, which :func:`insert_batch_rms` builds), with fewer passes over the
batch than the two would take.

The normalisation is inserted so that the function does not change: the running RMS
starts at the units' RMS over the training inputs and the next layer's columns are
multiplied by it (:func:`insert_batch_rms`). A warm start therefore continues exactly
from the fitted map.
"""

from __future__ import annotations

import torch
from torch import nn

#: Rows of the training inputs used to measure the units' initial RMS.
_INIT_ROWS = 20_000
#: Weight of each step's batch statistic in the running RMS (PyTorch's BatchNorm default).
MOMENTUM = 0.1
#: Added to the mean square before the root: a unit that is zero on the whole batch.
_EPS = 1e-12


class _BatchRMSFunction(torch.autograd.Function):
    """``h / rms(h)`` over the batch, with the gradient through the statistic written out.

    With ``y = h / r`` and ``r = sqrt(mean(h^2) + eps)`` per unit, the input's gradient
    is ``(g - y * mean(g * y)) / r``: three passes over the batch, where autograd through
    the composition runs about ten (division, its two gradients, the mean, the square).
    """

    @staticmethod
    def forward(ctx, h, running_rms):
        rms = h.square().mean(dim=0).add_(_EPS).sqrt_()
        running_rms.lerp_(rms.to(running_rms.dtype), MOMENTUM)
        inverse = rms.reciprocal()
        y = h * inverse
        ctx.save_for_backward(y, inverse)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, inverse = ctx.saved_tensors
        along = (grad * y).mean(dim=0)
        return torch.addcmul(grad, y, along, value=-1).mul_(inverse), None


class _PReLUBatchRMSFunction(torch.autograd.Function):
    """``BatchRMS`` of ``prelu(h, weight)``, one function with both backward passes written out.

    On the CPU a hidden layer of the default MLP runs PReLU and the normalisation back
    to back; as two functions they pass over the batch about twenty times. Here the
    normalised output ``y`` is written in place over the PReLU's, the unit sums are
    matrix-vector products (faster than a reduction over the batch dimension), the
    PReLU's derivative ``d`` (1 where ``h > 0``, the slope elsewhere, as PyTorch takes
    it at the kink) multiplies the normalisation's input gradient
    ``(g - y * mean(g * y)) / r`` once, and the slope's gradient is that gradient's dot
    product with ``min(h, 0)``; its temporaries go to a buffer kept across steps
    (:class:`_Scratch`). Forward and backward on a 2-core CPU (``python
    benchmarks/step_kernels.py``): 0.41 ms instead of 0.53 ms on 1,203 x 128 units
    (digits), 3.9 ms instead of 6.1 ms on 12,500 x 128 (a medium fit's step; there the
    cost of fresh pages, and so both figures, vary from run to run).
    """

    @staticmethod
    def forward(ctx, h, weight, running_rms, scratch):
        n = h.shape[0]
        ones = h.new_ones(n)
        p = torch.prelu(h, weight)
        squares = torch.mul(p, p, out=scratch.like(p))
        rms = torch.mv(squares.t(), ones).div_(n).add_(_EPS).sqrt_()
        running_rms.lerp_(rms.to(running_rms.dtype), MOMENTUM)
        inverse = rms.reciprocal()
        y = p.mul_(inverse)
        ctx.save_for_backward(h, y, inverse, weight, ones)
        ctx.scratch = scratch
        return y

    @staticmethod
    def backward(ctx, grad):
        h, y, inverse, weight, ones = ctx.saved_tensors
        products = torch.mul(grad, y, out=ctx.scratch.like(y))
        along = torch.mv(products.t(), ones).mul_(-1.0 / h.shape[0])
        grad_p = torch.addcmul(grad, y, along).mul_(inverse)
        below = torch.clamp(h, max=0, out=ctx.scratch.like(h))
        if weight.numel() > 1:
            grad_weight = (grad_p * below).sum(0)
        else:
            grad_weight = torch.dot(grad_p.reshape(-1), below.reshape(-1)).reshape(1)
        # 1 where h > 0, else 0 (a multiply, where a per-element select is slow), then
        # PReLU's derivative: 1 there, the slope elsewhere.
        slope = torch.sign(h, out=ctx.scratch.like(h)).clamp_(min=0)
        slope.mul_(1 - weight).add_(weight)
        return grad_p.mul_(slope), grad_weight, None, None


class _Scratch:
    """One buffer for the temporaries of :class:`_PReLUBatchRMSFunction`, kept across steps.

    Each temporary (the squares, the products of the gradient and the output, the
    negative part, PReLU's derivative) is read once and dropped before the next is made,
    so one buffer, grown to the largest batch, serves every layer's forward and backward
    pass; the derivative is not kept from the forward pass, so the saved tensors are
    the layer's input and output only. On the CPU a fresh tensor of a medium step's size
    (12,500 x 128 float32, 6.4 MB) comes from new pages each time, which costs about as
    much as the arithmetic on it.
    """

    def __init__(self) -> None:
        self._buffer = torch.empty(0)

    def like(self, tensor: torch.Tensor) -> torch.Tensor:
        """A tensor of ``tensor``'s shape, dtype and device over the buffer (old values)."""
        n = tensor.numel()
        buffer = self._buffer
        if buffer.numel() < n or buffer.dtype != tensor.dtype or buffer.device != tensor.device:
            buffer = self._buffer = torch.empty(n, dtype=tensor.dtype, device=tensor.device)
        return buffer[:n].view(tensor.shape)


def _fusable(prelu: nn.Module, norm: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``norm(prelu(x))`` can run as :class:`_PReLUBatchRMSFunction`."""
    return (
        isinstance(prelu, nn.PReLU)
        and isinstance(norm, BatchRMS)
        and norm.training
        and x.device.type == "cpu"
        and x.ndim == 2
        and torch.is_grad_enabled()
        and x.dtype == prelu.weight.dtype == norm.running_rms.dtype
        and prelu.weight.numel() in (1, x.shape[1])
    )


class TrainingNet(nn.Sequential):
    """``nn.Sequential`` that runs each PReLU followed by a training-mode :class:`BatchRMS`
    as one :class:`_PReLUBatchRMSFunction` on the CPU.

    The same function, parameters and state-dict names as the ``nn.Sequential`` of the
    same layers, which it is everywhere else (eval mode, CUDA, no gradient, autocast).
    :func:`insert_batch_rms` builds it; :func:`fold_batch_rms` puts a plain
    ``nn.Sequential`` back.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self._scratch = _Scratch()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(self)
        i = 0
        while i < len(layers):
            layer = layers[i]
            if i + 1 < len(layers) and _fusable(layer, layers[i + 1], x):
                x = _PReLUBatchRMSFunction.apply(
                    x, layer.weight, layers[i + 1].running_rms, self._scratch
                )
                i += 2
            else:
                x = layer(x)
                i += 1
        return x


class BatchRMS(nn.Module):
    """Divides each unit by its RMS over the batch (training) or by a running RMS (eval).

    Parameters
    ----------
    rms : Tensor of shape (width,)
        The initial running RMS.

    Shapes
    ------
    input (n, width) -> output (n, width).
    """

    def __init__(self, rms: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("running_rms", rms.detach().clone())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return h / self.running_rms
        return _BatchRMSFunction.apply(h, self.running_rms)


def supports_batch_rms(encoder: nn.Module) -> bool:
    """Whether ``encoder`` is a shipped MLP: ``net`` alternating bias-free Linear and PReLU."""
    from .encoders.mlp import MLPEncoder

    net = getattr(encoder, "net", None)
    return (
        type(encoder) is MLPEncoder
        and isinstance(net, nn.Sequential)
        and any(isinstance(m, nn.PReLU) for m in net)
    )


def insert_batch_rms(encoder: nn.Module, inputs: torch.Tensor) -> None:
    """Put a :class:`BatchRMS` after every PReLU of ``encoder.net``, keeping the function.

    Each one's running RMS starts at its unit's RMS over (up to ``_INIT_ROWS`` of) the
    encoder inputs, and the following Linear's columns are multiplied by it, so that
    the eval-mode network computes what it did before.

    Parameters
    ----------
    encoder : MLPEncoder
        Changed in place (see :func:`supports_batch_rms`).
    inputs : Tensor of shape (n, n_inputs)
        Encoder inputs, on the encoder's device.
    """
    layers = list(encoder.net)
    h = inputs[:_INIT_ROWS].flatten(1)
    new: list[nn.Module] = []
    with torch.no_grad():
        for i, layer in enumerate(layers):
            h = layer(h)
            new.append(layer)
            if isinstance(layer, nn.PReLU):
                rms = (h.square().mean(dim=0) + _EPS).sqrt()
                # A unit dead on the data would make the rescaling of the next layer 0.
                rms = torch.where(rms > 1e-6 * rms.max().clamp_min(_EPS), rms, rms.max())
                h = h / rms
                nxt = layers[i + 1]
                nxt.weight.mul_(rms.to(nxt.weight.dtype))
                new.append(BatchRMS(rms.to(nxt.weight.dtype)))
    encoder.net = TrainingNet(*new)


def fold_batch_rms(encoder: nn.Module) -> None:
    """Fold every :class:`BatchRMS` of ``encoder.net`` into the next Linear and remove it.

    After this ``encoder.net`` holds the original layers only (the state-dict names of a
    fit without the normalisation) and computes what the eval-mode network computed.
    Does nothing to an encoder without :class:`BatchRMS` layers.
    """
    net = getattr(encoder, "net", None)
    layers = list(net) if isinstance(net, nn.Sequential) else []
    if not any(isinstance(m, BatchRMS) for m in layers):
        return
    kept: list[nn.Module] = []
    with torch.no_grad():
        for i, layer in enumerate(layers):
            if isinstance(layer, BatchRMS):
                nxt = layers[i + 1]
                nxt.weight.div_(layer.running_rms.to(nxt.weight.dtype))
            else:
                kept.append(layer)
    encoder.net = nn.Sequential(*kept)


__all__ = [
    "BatchRMS",
    "TrainingNet",
    "fold_batch_rms",
    "insert_batch_rms",
    "supports_batch_rms",
]
