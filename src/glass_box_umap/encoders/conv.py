"""A bias-free convolutional encoder for images: conv, PReLU, pooling, then an MLP head."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._shapes import as_shape, check_positive_int
from .layers import Conv2d, Linear

_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class ConvEncoder(nn.Module):
    """Bias-free CNN: ``[Conv2d, PReLU, pool] * len(channels)``, flatten, bias-free MLP head.

    Convolutions without bias are linear, PReLU is piecewise linear through 0, max
    pooling picks an input and average pooling is linear: the whole network is
    positively homogeneous of degree one, so ``f(x) = J(x) x`` and the contributions,
    of shape (n, n_components, C, H, W), sum exactly to the embedding.

    Parameters
    ----------
    input_dims : tuple of int
        Per-sample image shape, ``(C, H, W)``; ``(H, W)`` is read as one channel.
    n_components : int
        Output dimension.
    channels : sequence of int, default (16, 32)
        Output channels of each convolution block.
    kernel_size : int, default 3
        Odd kernel size; convolutions are zero-padded to keep H and W.
    pool : {'max', 'avg', None}, default 'max'
        2x2 pooling after each block (``ceil_mode``, so odd sizes keep their border);
        ``None`` keeps the full resolution.
    hidden_size : int, default 128
        Width of the head's hidden layers.
    n_hidden_layers : int, default 1
        Hidden layers of the head (0: the flattened features map linearly to the output).

    Notes
    -----
    Shapes: input ``(n, C, H, W)`` or ``(n, H, W)`` -> output ``(n, n_components)``.
    """

    def __init__(
        self,
        input_dims: tuple[int, ...],
        n_components: int,
        channels: tuple[int, ...] | list[int] = (16, 32),
        kernel_size: int = 3,
        pool: str | None = "max",
        hidden_size: int = 128,
        n_hidden_layers: int = 1,
    ) -> None:
        super().__init__()
        shape = as_shape(input_dims)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"input_dims: the conv encoder needs images, a per-sample shape (C, H, W) or "
                f"(H, W), got {shape}; pass X of shape (n_samples, C, H, W)"
            )
        self.input_shape = shape
        check_positive_int("n_components", n_components)
        if isinstance(channels, int) or not channels:
            raise ValueError(f"channels: expected a non-empty sequence of ints, got {channels!r}")
        channels = [check_positive_int("channels", c) for c in channels]
        check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: must be odd (to pad symmetrically), got {kernel_size}")
        if pool not in (*_POOLS, None):
            raise ValueError(f"pool: expected 'max', 'avg' or None, got {pool!r}")
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("n_hidden_layers", n_hidden_layers, 0)

        in_channels, height, width = (1, *shape) if len(shape) == 2 else shape
        layers: list[nn.Module] = []
        for out_channels in channels:
            layers += [
                Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
                nn.PReLU(out_channels),
            ]
            if pool is not None:
                layers.append(_POOLS[pool](2, ceil_mode=True))
                height, width = math.ceil(height / 2), math.ceil(width / 2)
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten()]
        size = in_channels * height * width
        for _ in range(n_hidden_layers):
            head += [Linear(size, hidden_size), nn.PReLU()]
            size = hidden_size
        head.append(Linear(size, n_components))
        self.head = nn.Sequential(*head)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation for every layer followed by PReLU, unit gain for the output."""
        *hidden, last = [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for layer in hidden:
            nn.init.kaiming_normal_(layer.weight, a=0.25, nonlinearity="leaky_relu")
        nn.init.normal_(last.weight, std=last.in_features**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of encoder inputs.

        Parameters
        ----------
        x : Tensor of shape (n, C, H, W), or (n, H, W) for one channel
            Encoder inputs (centred, projected and scaled samples).

        Returns
        -------
        Tensor of shape (n, n_components)
            The embedding.
        """
        if x.ndim == 3:
            x = x.unsqueeze(1)
        return self.head(self.features(x))
