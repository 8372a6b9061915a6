"""Command-line entry point: ``glass-box-umap demo``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from sklearn.datasets import load_digits

    from . import GlassBoxUMAP
    from .plotting import plot_embedding

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    X, y = digits.data, digits.target
    print(f"Fitting GlassBoxUMAP (defaults, epochs={args.epochs}) on sklearn digits {X.shape}")
    start = time.perf_counter()
    reducer = GlassBoxUMAP(epochs=args.epochs, random_state=args.seed, quiet=args.quiet)
    embedding = reducer.fit_transform(X)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    contributions = reducer.compute_contributions(X)
    explain_seconds = time.perf_counter() - start
    gap = np.abs(contributions.sum(-1) - embedding).max()

    paths = {
        "embedding": out / "embedding.csv",
        "contributions": out / "contributions.npy",
        "model": out / "model.safetensors",
        "plot": out / "embedding.png",
    }
    header = ",".join(f"umap{k + 1}" for k in range(embedding.shape[1])) + ",label"
    np.savetxt(
        paths["embedding"],
        np.column_stack([embedding, y]),
        delimiter=",",
        header=header,
        comments="",
        fmt=["%.6g"] * embedding.shape[1] + ["%d"],
    )
    np.save(paths["contributions"], contributions)
    reducer.save(paths["model"])
    fig = plot_embedding(embedding, y, title="sklearn digits, GlassBoxUMAP defaults")
    fig.savefig(paths["plot"], dpi=120)

    print(f"fit: {fit_seconds:.1f} s; contributions: {explain_seconds:.2f} s")
    print(f"contributions {contributions.shape} sum to the embedding within {gap:.2e}")
    for name, path in paths.items():
        print(f"{name:>13}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="glass-box-umap",
        description="Parametric UMAP with exact per-feature contributions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="fit sklearn's digits with defaults; write embedding, contributions and a plot",
    )
    demo.add_argument("--out", default="demo_output", help="output folder (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=200, help="training epochs (default: 200)")
    demo.add_argument("--seed", type=int, default=0, help="random_state (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        parser.error(f"--epochs: must be >= 1, got {args.epochs}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
