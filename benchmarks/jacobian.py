"""Contributions throughput of the default MLP: our Jacobians against torch.func.vmap(jacrev).

Usage::

    python benchmarks/jacobian.py [--n 10000] [--repeats 5] [--features 64 784] [--quick]

For each input width (64: sklearn digits; 784: MNIST-sized), builds the default encoder
(bias-free MLP, 3 hidden layers of 128, PReLU, 2 outputs) and times the contributions
``J(x) * x`` of ``--n`` random samples in one batch, float32, three ways:

* ``closed form``: :meth:`MLPEncoder.jacobian`, ``W_L D W ... D W_1`` from the output side
  (what ``compute_contributions`` uses for this encoder);
* ``autograd``: ``n_components`` backward passes over the whole batch (what every other
  exact encoder uses);
* ``vmap(jacrev)``: ``torch.func.vmap(torch.func.jacrev(f))``, the generic baseline
  (on a copy whose PReLU is written as ``torch.where``: see :class:`WherePReLU`).

Prints samples per second (median of ``--repeats``, methods interleaved so drift in the
machine's load hits all of them), each method's speed relative to ``vmap(jacrev)``, and
the largest difference from its Jacobians. Timings are informative; nothing fails on
speed. ``--quick`` (256 samples of 64 features, once) checks that the script runs; its
figures mean nothing.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from _common import format_table, header
from torch import nn

from glass_box_umap.attribution import autograd_jacobian
from glass_box_umap.encoders import MLPEncoder


class WherePReLU(nn.Module):
    """PReLU as ``where(h > 0, h, a h)``: the same function, differentiable under vmap.

    torch 2.13's batching rule for PReLU's backward fails inside ``vmap(jacrev)`` ("The
    size of tensor a (n) must match the size of tensor b ..."), so the baseline runs on
    a copy of the encoder with this equivalent layer.
    """

    def __init__(self, prelu: nn.PReLU) -> None:
        super().__init__()
        self.weight = prelu.weight

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.where(h > 0, h, self.weight * h)


def vmap_jacrev(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Jacobians (n, n_components, n_features) with torch.func."""
    return torch.func.vmap(torch.func.jacrev(lambda v: model(v[None])[0]))(x)


def methods(model: MLPEncoder) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    baseline = copy.deepcopy(model)
    baseline.net = nn.Sequential(
        *(WherePReLU(m) if isinstance(m, nn.PReLU) else m for m in baseline.net)
    )
    return {
        "closed form": lambda x: model.jacobian(x)[0],
        "autograd": lambda x: autograd_jacobian(model, x)[0],
        "vmap(jacrev)": lambda x: vmap_jacrev(baseline, x),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples per batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--features", type=int, nargs="+", default=[64, 784])
    parser.add_argument("--quick", action="store_true", help="256 x 64, once: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats, args.features = 256, 1, [64]

    for line in header():
        print(line)
    print(
        f"\ndefault MLP (3 x 128, PReLU, 2 outputs), float32, batch of {args.n:,}, "
        f"median of {args.repeats}; contributions = J(x) * x"
    )
    rows = [["features", "method", "samples/s", "ms/batch", "vs vmap(jacrev)", "max |dJ|"]]
    for n_features in args.features:
        torch.manual_seed(0)
        model = MLPEncoder(n_features, 2).eval()
        x = torch.randn(args.n, n_features)
        fns = methods(model)
        reference = fns["vmap(jacrev)"](x)
        times: dict[str, list[float]] = {name: [] for name in fns}
        for fn in fns.values():  # warm-up
            fn(x[:256])
        for _ in range(args.repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn(x) * x.unsqueeze(1)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["vmap(jacrev)"])
        for name, fn in fns.items():
            seconds = statistics.median(times[name])
            diff = (fn(x) - reference).abs().max().item()
            rows.append(
                [
                    str(n_features),
                    name,
                    f"{args.n / seconds:,.0f}",
                    f"{1000 * seconds:.1f}",
                    f"{base / seconds:.2f}x",
                    f"{diff:.1e}",
                ]
            )
    print(format_table(rows, n_left=2))


if __name__ == "__main__":
    main()
