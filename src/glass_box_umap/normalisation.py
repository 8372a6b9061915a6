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
    encoder.net = nn.Sequential(*new)


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


__all__ = ["BatchRMS", "fold_batch_rms", "insert_batch_rms", "supports_batch_rms"]
