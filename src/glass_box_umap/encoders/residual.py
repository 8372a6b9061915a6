"""A bias-free residual MLP: skip connections that add, PReLU, no offsets."""

from __future__ import annotations

import torch
from torch import nn

from ._shapes import as_shape, check_positive_int, n_inputs
from .layers import Linear, Residual


class ResidualEncoder(nn.Module):
    """Bias-free residual MLP, ``h_{b+1} = h_b + W_b2 s(W_b1 s(h_b))``.

    A stem maps the input to ``hidden_size``; each block adds a two-layer bias-free
    branch (pre-activation PReLU) to its input; a PReLU and a bias-free linear head give
    the output. Sums of degree-one maps are of degree one, so ``f(x) = J(x) x`` exactly.

    Parameters
    ----------
    input_dims : int or tuple of int
        Number of input features, or a per-sample shape (flattened first).
    n_components : int
        Output dimension.
    hidden_size : int, default 128
        Width of the stem and of every block.
    n_blocks : int, default 2
        Residual blocks (0 gives stem, PReLU, head: a one-hidden-layer MLP).

    Notes
    -----
    Shapes: input ``(n, *input_dims)`` -> output ``(n, n_components)``.
    """

    #: Refuse N-D ``X`` by name in ``GlassBoxUMAP``, as the default MLP does.
    flat_input = True

    def __init__(
        self,
        input_dims: int | tuple[int, ...],
        n_components: int,
        hidden_size: int = 128,
        n_blocks: int = 2,
    ) -> None:
        super().__init__()
        self.input_shape = as_shape(input_dims)
        check_positive_int("n_components", n_components)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("n_blocks", n_blocks, 0)
        self.stem = Linear(n_inputs(self.input_shape), hidden_size)
        self.blocks = nn.Sequential(
            *(
                Residual(
                    nn.Sequential(
                        nn.PReLU(),
                        Linear(hidden_size, hidden_size),
                        nn.PReLU(),
                        Linear(hidden_size, hidden_size),
                    )
                )
                for _ in range(n_blocks)
            )
        )
        self.head = nn.Sequential(nn.PReLU(), Linear(hidden_size, n_components))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation, with each block's last layer scaled by ``n_blocks ** -0.5``.

        The scaling keeps the variance of the residual stream from growing with depth
        (each block adds its branch to it), as in Fixup-style initialisations.
        """
        nn.init.kaiming_normal_(self.stem.weight, nonlinearity="linear")
        for block in self.blocks:
            first, last = block.body[1], block.body[3]
            nn.init.kaiming_normal_(first.weight, a=0.25, nonlinearity="leaky_relu")
            nn.init.kaiming_normal_(last.weight, a=0.25, nonlinearity="leaky_relu")
            last.weight.data.mul_(len(self.blocks) ** -0.5)
        head = self.head[1]
        nn.init.normal_(head.weight, std=head.in_features**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of encoder inputs.

        Parameters
        ----------
        x : Tensor of shape (n, input_dims) or (n, \\*input_shape)
            Encoder inputs (centred, projected and scaled samples).

        Returns
        -------
        Tensor of shape (n, n_components)
            The embedding; N-D samples are flattened first.
        """
        x = x.flatten(1) if x.ndim > 2 else x
        return self.head(self.blocks(self.stem(x)))
