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

    Notes
    -----
    No normalisation layer. A scale-only normalisation (hidden activations divided by a
    running RMS, a constant when explaining) would keep exactness, but on digits it moved
    trustworthiness only from 0.968 to 0.972 in a 400-step fit, and a variance-preserving
    initialisation (:meth:`reset_parameters`) gains more (0.983 -> 0.986 at the defaults)
    without a layer whose statistics differ between training and explaining.
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
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation for PReLU's initial slope, unit gain for the output layer.

        PyTorch's default Linear init shrinks activations about threefold per layer, so
        a deep bias-free net starts with a collapsed embedding and spends its first
        hundreds of Adam steps growing its scale. Measured at the defaults (200 epochs):
        trustworthiness 0.912 -> 0.942 on wine and 0.983 -> 0.986 on digits.
        """
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        for layer in linears[:-1]:
            nn.init.kaiming_normal_(layer.weight, a=0.25, nonlinearity="leaky_relu")
        nn.init.normal_(linears[-1].weight, std=linears[-1].in_features ** -0.5)

    def forward(self, x):
        return self.net(x)
