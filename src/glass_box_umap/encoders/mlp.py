"""The default encoder: a bias-free MLP with PReLU activations."""

from __future__ import annotations

from torch import nn


class MLPEncoder(nn.Module):
    """Bias-free fully connected network, ``f(x) = W_L s(... s(W_1 x))``.

    Every layer is linear without bias and PReLU is piecewise linear through the
    origin, so ``f(c x) = c f(x)`` for ``c > 0`` and, wherever ``f`` is differentiable,
    ``f(x) = J(x) x`` exactly: the contributions ``J[k, j] x[j]`` sum to the output.

    Parameters
    ----------
    input_dims : int
        Number of input features.
    n_components : int
        Output dimension.
    hidden_size : int, default 128
        Width of each hidden layer.
    n_hidden_layers : int, default 3
        Number of hidden layers (0 gives a plain linear map).

    Shapes
    ------
    input (n, input_dims) -> output (n, n_components).
    """

    def __init__(
        self,
        input_dims: int,
        n_components: int,
        hidden_size: int = 128,
        n_hidden_layers: int = 3,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("input_dims", input_dims, 1),
            ("n_components", n_components, 1),
            ("hidden_size", hidden_size, 1),
            ("n_hidden_layers", n_hidden_layers, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        layers: list[nn.Module] = []
        width = input_dims
        for _ in range(n_hidden_layers):
            layers += [nn.Linear(width, hidden_size, bias=False), nn.PReLU()]
            width = hidden_size
        layers.append(nn.Linear(width, n_components, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
