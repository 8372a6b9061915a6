"""Exact building blocks: layers that keep an encoder positively homogeneous, ``f(x) = J(x) x``.

A network explains itself exactly when it is *positively homogeneous of degree one*:
``f(c x) = c f(x)`` for every ``c > 0``. Euler's theorem then gives ``f(x) = J(x) x``
wherever ``f`` is differentiable, and for the piecewise-linear layers below it holds
everywhere (at a kink, the piece autograd picks still passes through the value). A
composition, sum or concatenation of degree-one maps is again of degree one, so any
network built only from these blocks is exact, whatever its depth or wiring.

Each block says why it qualifies. What breaks exactness, and why:

* a bias or any additive constant: ``f(0) = b != 0``, so ``f(x) - J(x) x = b``;
* a smooth activation (tanh, GELU, SiLU, sigmoid): not linear on any ray from 0;
* a saturating one (ReLU6, Hardtanh): linear near 0, constant further out;
* a normalisation with statistics of the sample itself (LayerNorm, GroupNorm, RMSNorm,
  InstanceNorm): of degree 0, ``f(c x) = f(x)``, so ``J(x) x = 0``; or with a shift
  (BatchNorm's running mean and bias).

:func:`glass_box_umap.exactness.check_exactness` measures the error for any module and
names such layers when it finds them.
"""

from __future__ import annotations

import torch
from torch import nn

#: Piecewise linear through the origin: ``a * x`` with ``a`` in ``{1, slope}`` per unit.
#: PReLU's slope is learnt; LeakyReLU's fixed; ReLU's is 0. RReLU draws its slope only in
#: training and uses a fixed mean slope in eval, where explanations are computed.
PReLU = nn.PReLU
LeakyReLU = nn.LeakyReLU
ReLU = nn.ReLU

#: Max pooling picks one input per window: locally the identity on that input, so
#: linear, and ``max(c x) = c max(x)`` for ``c > 0``. Average pooling is linear outright.
MaxPool2d = nn.MaxPool2d
AvgPool2d = nn.AvgPool2d
AdaptiveAvgPool2d = nn.AdaptiveAvgPool2d
AdaptiveMaxPool2d = nn.AdaptiveMaxPool2d

#: Reshapes are linear (a permutation of coordinates).
Flatten = nn.Flatten

#: Dropout is the identity in eval mode, where explanations are computed; in training it
#: multiplies by a random 0 / (1 - p) mask, which is linear too.
Dropout = nn.Dropout


class Linear(nn.Linear):
    """``nn.Linear`` without a bias: ``y = x W^T`` is linear, so ``f(0) = 0``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and each output sample, as for ``nn.Linear``.

    Notes
    -----
    Shapes: input ``(n, *, in_features)`` -> output ``(n, *, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` without a bias: a convolution is linear in its input.

    Every padding mode of ``nn.Conv2d`` keeps it linear: zero padding appends zeros,
    and reflect / replicate / circular padding copy input values.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output, as for ``nn.Conv2d``.
    kernel_size : int or tuple of int
        Height and width of the kernel (one int for a square kernel).
    **kwargs
        Any other ``nn.Conv2d`` argument except ``bias``.

    Notes
    -----
    Shapes: input ``(n, in_channels, H, W)`` -> output ``(n, out_channels, H', W')``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], **kwargs
    ) -> None:
        if kwargs.pop("bias", False):
            raise ValueError("bias: an exact Conv2d has no bias")
        super().__init__(in_channels, out_channels, kernel_size, bias=False, **kwargs)


class Residual(nn.Module):
    """Additive skip connection, ``y = shortcut(x) + body(x)``.

    A sum of two degree-one maps is of degree one, and the Jacobian of a sum is the sum
    of the Jacobians, so ``y = (J_shortcut + J_body) x`` exactly. (Concatenation keeps
    exactness for the same reason; multiplying two branches would not: degree two.)

    Parameters
    ----------
    body : nn.Module
        Built from exact blocks; must return the shape of ``shortcut(x)``.
    shortcut : nn.Module or None, default None
        ``None`` is the identity; give a bias-free :class:`Linear` or 1x1 :class:`Conv2d`
        when ``body`` changes the width.
    """

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output, ``shortcut(x) + body(x)``.

        Parameters
        ----------
        x : Tensor of shape (n, ...)
            The block's input.

        Returns
        -------
        Tensor
            The skip (``x`` itself, or its bias-free projection) plus the body's output.
        """
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + self.body(x)


class ScaleNorm(nn.Module):
    """Scale-only batch normalisation: divide each channel by its root mean square.

    Like ``nn.BatchNorm`` without the centring and without the shift: in training, a
    channel is divided by the RMS over the batch (and spatial positions); a running
    average of the mean square is kept. In eval mode, where explanations are computed,
    the running statistic is a *constant*, so the layer is a fixed per-channel scaling:
    linear, and samples do not interact. (Statistics of the sample itself, as in
    LayerNorm or RMSNorm, would make the layer of degree 0 and break exactness.)

    Parameters
    ----------
    num_features : int
        Channels: size of dimension 1 of the input.
    eps : float, default 1e-5
        Added to the mean square before the square root.
    momentum : float, default 0.1
        Weight of the newest batch in the running mean square.
    affine : bool, default True
        Learn a per-channel gain (a scale; there is no shift).

    Notes
    -----
    Shapes: input ``(n, num_features, *)`` -> output of the same shape.
    """

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.register_buffer("running_ms", torch.ones(num_features))
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each channel divided by its RMS (the batch's in training, the running one otherwise).

        Parameters
        ----------
        x : Tensor of shape (n, num_features, ...)
            The input.

        Returns
        -------
        Tensor of the shape of ``x``
            The normalised input (times ``weight`` when affine).
        """
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"x: ScaleNorm({self.num_features}) expects shape (n, {self.num_features}, ...), "
                f"got {tuple(x.shape)}"
            )
        if self.training:
            ms = x.pow(2).mean(dim=[d for d in range(x.ndim) if d != 1])
            with torch.no_grad():
                self.running_ms.lerp_(ms.detach().to(self.running_ms.dtype), self.momentum)
        else:
            ms = self.running_ms
        scale = torch.rsqrt(ms + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        return x * scale.view(1, -1, *([1] * (x.ndim - 2)))

    def extra_repr(self) -> str:
        """The layer's settings, as ``print(module)`` shows them.

        Returns
        -------
        str
            Features, ``eps``, ``momentum`` and whether it is affine.
        """
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.weight is not None}"
        )


#: Leaf module types that are exact as long as they hold no bias (checked separately).
#: :func:`glass_box_umap.exactness.scan_encoder` trusts these without further ado.
EXACT_MODULES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.PReLU,
    nn.ReLU,
    nn.LeakyReLU,
    nn.RReLU,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.Upsample,
    nn.PixelShuffle,
    nn.PixelUnshuffle,
    nn.ReflectionPad1d,
    nn.ReflectionPad2d,
    nn.ReplicationPad1d,
    nn.ReplicationPad2d,
    nn.ZeroPad1d,
    nn.ZeroPad2d,
    nn.CircularPad1d,
    nn.CircularPad2d,
    ScaleNorm,
)

__all__ = [
    "EXACT_MODULES",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "PReLU",
    "ReLU",
    "Residual",
    "ScaleNorm",
]
