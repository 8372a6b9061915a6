"""Which chemistry places each wine cultivar where it is: a full explanation workflow.

sklearn's wine data (178 wines, 13 chemical measurements, 3 cultivars), standardised
and kept as a DataFrame so that every output is named by its measurement. The script

1. fits :class:`glass_box_umap.GlassBoxUMAP` (``random_state=0``) and computes the exact
   contributions of every feature to every wine's position;
2. writes ``explorer.html``, the interactive explorer (hover a wine for its top three
   measurements, colour by any measurement's contribution, lasso a region to see what
   places it);
3. writes static figures: the embedding by cultivar, each cultivar's top features, and
   the embedding coloured by the contribution of the strongest feature;
4. writes ``groups.csv`` (:func:`glass_box_umap.explain_groups`) and, for every pair of
   cultivars, ``difference_<a>_<b>.csv`` (:func:`glass_box_umap.explain_difference`);
5. prints, per cultivar, the measurements that carry it from the average wine (the
   embedding's origin) to its centroid, and, per pair, the measurements that separate
   them with their share of the distance (shares add up to 1, exactly).

Usage::

    python examples/explain_wine.py [--out DIR] [--epochs 200] [--quick]

``--out`` defaults to ``examples/output/explain_wine``; ``--quick`` (2 epochs) checks that
the script runs.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from glass_box_umap import GlassBoxUMAP, explain_difference, explain_groups  # noqa: E402
from glass_box_umap.plotting import (  # noqa: E402
    plot_embedding,
    plot_feature_contribution,
    plot_top_features,
    save_explorer,
)

DEFAULT_OUT = Path("examples/output/explain_wine")


def load() -> tuple[pd.DataFrame, np.ndarray]:
    """Standardised wine measurements (a named DataFrame) and cultivar names."""
    data = load_wine(as_frame=True)
    X = pd.DataFrame(
        StandardScaler().fit_transform(data.data), columns=data.data.columns, index=data.data.index
    )
    cultivar = np.asarray([f"cultivar_{t}" for t in data.target], dtype=object)
    return X, cultivar


def describe_group(table: pd.DataFrame, group: str, n: int = 3) -> str:
    """One line: the group's strongest features and the direction each pushes it."""
    rows = table[(table["group"] == group) & (table["rank"] <= n)]
    parts = [
        f"{r.feature} ({100 * r.l2_share:.0f}%, component 0 {r.mean_component0:+.2f}, "
        f"component 1 {r.mean_component1:+.2f})"
        for r in rows.itertuples()
    ]
    return f"{group}: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="2 epochs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 2
    args.out.mkdir(parents=True, exist_ok=True)

    X, cultivar = load()
    reducer = GlassBoxUMAP(random_state=0, epochs=args.epochs, quiet=True)
    emb = reducer.fit_transform(X)
    C = reducer.compute_contributions(X)
    names = reducer.feature_names_in_
    print(f"fit {X.shape[0]} wines x {X.shape[1]} measurements; contributions {C.shape}")
    error = np.abs(C.sum(-1) - emb).max()
    scale = np.abs(emb).max()
    print(f"max |sum of contributions - embedding| = {error:.2e} (max |emb| {scale:.2f})")

    written = [
        save_explorer(
            args.out / "explorer.html",
            emb,
            C,
            feature_names=names,
            groups=cultivar,
            feature_values=X.to_numpy(),
            title="Wine: GlassBoxUMAP explorer",
        )
    ]

    table = explain_groups(C, cultivar, feature_names=names)
    table.to_csv(args.out / "groups.csv", index=False)
    written.append(args.out / "groups.csv")

    figures = {
        "embedding.png": plot_embedding(emb, cultivar, title="Wine by cultivar"),
        "top_features.png": plot_top_features(C, cultivar, k=6, feature_names=names),
    }
    strongest = table.groupby("feature")["mean_l2"].mean().idxmax()
    # Feature names may hold characters a file name cannot ("od280/od315_of_...").
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", strongest)
    figures[f"contribution_{safe}.png"] = plot_feature_contribution(
        emb, C, strongest, feature_names=names
    )
    for name, fig in figures.items():
        fig.savefig(args.out / name, dpi=110)
        written.append(args.out / name)

    print("\nWhat carries each cultivar away from the average wine (share of contribution):")
    for group in sorted(set(cultivar)):
        print("  " + describe_group(table, group))

    print("\nWhat separates the cultivars (share of the centroid distance, sums to 1):")
    for a, b in itertools.combinations(sorted(set(cultivar)), 2):
        diff = explain_difference(C, emb, cultivar == a, cultivar == b, feature_names=names)
        path = args.out / f"difference_{a}_{b}.csv"
        diff.to_csv(path, index=False)
        written.append(path)
        top = ", ".join(f"{r.feature} {100 * r.share:.0f}%" for r in diff.head(3).itertuples())
        print(
            f"  {a} vs {b}: distance {diff.attrs['gap']:.2f}; {top} "
            f"(1 - sum of shares = {diff.attrs['residual']:+.1e})"
        )

    print("\nwrote:")
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":
    main()
