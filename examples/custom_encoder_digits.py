"""Digits as 8x8 images through the convolutional encoder: exact pixel contribution maps.

sklearn's digits (1,797 images of 8x8 pixels, intensities 0-16) are passed as an array of
shape (n, 1, 8, 8), so the encoder sees images, not feature vectors. The script

1. fits :class:`glass_box_umap.GlassBoxUMAP` with ``encoder_name='conv'`` (bias-free
   convolutions, PReLU, max pooling, bias-free MLP head; ``random_state=0``);
2. prints the exactness report of the fitted model on all images in float64
   (:func:`glass_box_umap.exactness.check_exactness`), and, for contrast, the report of a
   look-alike CNN with biases and tanh, which the check flags and names;
3. computes the contributions, of shape (n, 2, 1, 8, 8): for every image and embedding
   axis, one map saying how much each pixel (relative to the mean image) moves the
   image along that axis; the maps of an image sum to its coordinates exactly;
4. writes ``embedding.png`` (the embedding by digit, a few images marked) and
   ``contribution_maps.png`` (for each marked image: the image, then its map for each
   axis, red pushing the coordinate up, blue down).

Usage::

    python examples/custom_encoder_digits.py [--out DIR] [--epochs 200] [--quick]

``--out`` defaults to ``examples/output/custom_encoder_digits``; ``--quick`` (300 images, 2
epochs) checks that the script runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402
from torch import nn  # noqa: E402

from glass_box_umap import GlassBoxUMAP  # noqa: E402
from glass_box_umap.exactness import check_exactness  # noqa: E402

DEFAULT_OUT = Path("examples/output/custom_encoder_digits")


def inexact_lookalike() -> nn.Module:
    """The conv encoder's shape with the usual defaults: biases and tanh (not exact)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 2),
    )


def pick_examples(labels: np.ndarray, per_class: int = 1) -> np.ndarray:
    """The first ``per_class`` images of digits 0, 2, 4, 6, 8 and 9."""
    return np.concatenate([np.flatnonzero(labels == d)[:per_class] for d in (0, 2, 4, 6, 8, 9)])


def plot_maps(
    images: np.ndarray, contributions: np.ndarray, embedding: np.ndarray, labels: np.ndarray
) -> plt.Figure:
    """One row per image: the image, then its contribution map for each embedding axis."""
    n, n_axes = contributions.shape[:2]
    fig, axes = plt.subplots(n, n_axes + 1, figsize=(2.3 * (n_axes + 1), 2.2 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i, 0], cmap="gray_r")
        axes[i, 0].set_title(f"digit {labels[i]}", fontsize=9)
        for k in range(n_axes):
            cmap = contributions[i, k, 0]
            limit = np.abs(cmap).max() or 1.0
            im = axes[i, k + 1].imshow(cmap, cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[i, k + 1].set_title(
                f"axis {k + 1}: {embedding[i, k]:+.2f}\n(sum {cmap.sum():+.2f})", fontsize=9
            )
            fig.colorbar(im, ax=axes[i, k + 1], fraction=0.046, pad=0.04)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Pixel contributions relative to the mean digit (maps sum to the coordinates)")
    fig.tight_layout()
    return fig


def plot_embedding(embedding: np.ndarray, labels: np.ndarray, marked: np.ndarray) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    points = ax.scatter(embedding[:, 0], embedding[:, 1], c=labels, cmap="tab10", s=5)
    ax.scatter(*embedding[marked].T, s=90, facecolors="none", edgecolors="black")
    for i in marked:
        ax.annotate(str(labels[i]), embedding[i], xytext=(6, 6), textcoords="offset points")
    fig.colorbar(points, ax=ax, label="digit")
    ax.set_title("Digits as 1x8x8 images, conv encoder")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="300 images, 2 epochs: a smoke test")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    digits = load_digits()
    images = digits.data.reshape(-1, 1, 8, 8).astype(np.float32)
    labels = digits.target
    if args.quick:
        images, labels, args.epochs = images[:300], labels[:300], 2
    reducer = GlassBoxUMAP(encoder_name="conv", epochs=args.epochs, random_state=0, quiet=True)
    embedding = reducer.fit_transform(images)
    print(f"fitted on images of shape {reducer.input_shape_}; encoder:\n{reducer.encoder_}\n")
    flat = images.reshape(len(images), -1)
    print(
        f"trustworthiness (15 neighbours): {trustworthiness(flat, embedding, n_neighbors=15):.3f}"
    )

    print("\nThe fitted model, float64, all images:")
    print(check_exactness(reducer, images))
    print("\nFor contrast, a CNN with biases and tanh (untrained, centred images):")
    torch.manual_seed(0)
    print(check_exactness(inexact_lookalike(), images - reducer.mean_))

    contributions = reducer.compute_contributions(images)  # (n, 2, 1, 8, 8)
    error = np.abs(contributions.sum(axis=(2, 3, 4)) - embedding).max()
    print(
        f"\ncontributions {contributions.shape}: largest |sum of a map - coordinate| = "
        f"{error:.1e} (float32), embedding scale {np.abs(embedding).max():.1f}"
    )

    marked = pick_examples(labels)
    fig = plot_maps(images[marked], contributions[marked], embedding[marked], labels[marked])
    fig.savefig(args.out / "contribution_maps.png", dpi=110)
    fig = plot_embedding(embedding, labels, marked)
    fig.savefig(args.out / "embedding.png", dpi=110)
    print(f"\nwrote {args.out / 'contribution_maps.png'} and {args.out / 'embedding.png'}")


if __name__ == "__main__":
    main()
