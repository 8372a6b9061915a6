"""Peak memory of the scanpy integration on a large sparse AnnData (target: under 3 GB).

A synthetic single-cell atlas: 100,000 cells x 2,000 genes, Poisson counts of 12 cell
types (each a gamma-distributed expression profile with its own marker genes), per-cell
library sizes, about 7% of the entries non-zero; normalised to 10,000 counts per cell and
``log1p``-ed on the stored values only, as ``sc.pp.normalize_total`` and ``sc.pp.log1p``
do, and kept as a float32 CSR ``adata.X``. Then, in one process::

    gbu.fit(adata, groupby="cell_type", pca_components=50, epochs=20, random_state=0)

(the estimator's PCA on the sparse genes, then pynndescent's neighbours of the 50 PCs;
20 epochs = 80 Adam steps of 10,000 edges, a short training: the memory does not depend
on the number of steps), with the contributions, 100,000 x 2 x 2,000 float32 (1.6 GB),
written to a ``.npy`` 4,096 cells at a time; then ``gbu.transform`` of a 20,000-cell
query drawn from the same types (its contributions to a second ``.npy``).

Printed per stage: seconds, resident memory at the end of the stage (``VmRSS``), the
peak so far (``ru_maxrss``: what the target is about), and the peak of Python and
numpy allocations within the stage (``tracemalloc``, with ``--tracemalloc``; torch's
allocations are not traced). The ``.npy`` files go to a temporary folder, removed at the
end (``--keep DIR`` keeps them). ::

    nice python benchmarks/scanpy_memory.py            # 100,000 x 2,000 (a few minutes)
    python benchmarks/scanpy_memory.py --quick         # 10,000 x 500, about a minute

Exits with status 1 when the peak is over the target.

Measured with ``nice python benchmarks/scanpy_memory.py --tracemalloc`` on 2 CPU cores
(torch 2.13 CPU): peak RSS 2.09 GB, of which 0.38 GB is the runtime and 0.27 GB the data.
Within the fit, stage by stage (the estimator's stages wrapped in a throw-away script):
the centred, PCA-projected inputs (16,384 dense rows at a time) bring the peak to
1.68 GB, pynndescent's neighbours to 1.98 GB (it allocates 3.78 GB that it mostly never
touches, hence the traced peak above the resident one), the chunked contributions and
groups table add little (traced peak 0.87 GB per 4,096-cell chunk, 2.02 GB resident).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import format_table, header  # noqa: E402

TARGET_GB = 3.0
GB = 1e9


def gbu_max_obsm_values() -> int:
    from glass_box_umap.scanpy import MAX_OBSM_VALUES

    return MAX_OBSM_VALUES


def rss_now() -> float:
    """Resident memory of this process now, in bytes (Linux ``/proc``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) * 1024
    return float("nan")


def rss_peak() -> float:
    """Peak resident memory of this process so far, in bytes (``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def counts_profiles(n_genes: int, n_types: int, rng: np.random.Generator) -> np.ndarray:
    """Mean counts per gene of each cell type, (n_types, n_genes): a shared gamma profile
    (mean 0.06), each type scaling its own 40 marker genes up 8-fold and the rest by
    log-normal noise."""
    base = rng.gamma(0.4, 0.15, size=n_genes)
    profiles = base * rng.lognormal(0.0, 0.5, size=(n_types, n_genes))
    for t in range(n_types):
        markers = rng.choice(n_genes, size=min(40, n_genes), replace=False)
        profiles[t, markers] *= 8.0
    return profiles


def synthetic_counts(
    n_cells: int,
    profiles: np.ndarray,
    rng: np.random.Generator,
    block: int = 5_000,
) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """Normalised, log1p-ed sparse counts (float32 CSR) and the cell types, built ``block``
    cells at a time so that no dense n_cells x n_genes array exists."""
    types = rng.integers(0, profiles.shape[0], n_cells)
    blocks = []
    for start in range(0, n_cells, block):
        t = types[start : start + block]
        size = rng.lognormal(0.0, 0.3, size=(t.size, 1))
        counts = scipy.sparse.csr_matrix(rng.poisson(profiles[t] * size).astype(np.float32))
        totals = np.asarray(counts.sum(axis=1)).ravel()
        scale = np.divide(1e4, totals, out=np.zeros_like(totals), where=totals > 0)
        counts.data *= np.repeat(scale, np.diff(counts.indptr)).astype(np.float32)
        np.log1p(counts.data, out=counts.data)
        blocks.append(counts)
    return scipy.sparse.vstack(blocks, format="csr", dtype=np.float32), types


def make_adata(X: scipy.sparse.csr_matrix, types: np.ndarray, prefix: str):
    import anndata
    import pandas as pd

    n_cells, n_genes = X.shape
    return anndata.AnnData(
        X=X,
        obs=pd.DataFrame(
            {"cell_type": pd.Categorical([f"type{t}" for t in types])},
            index=[f"{prefix}{i}" for i in range(n_cells)],
        ),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)]),
    )


class Stages:
    """Rows of the printed table: one per stage, measured when the stage ends."""

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.rows: list[list[str]] = [
            ["stage", "what", "s", "RSS now GB", "peak RSS GB", "py peak GB"]
        ]
        self.start = time.perf_counter()
        if trace:
            tracemalloc.start()

    def end(self, stage: str, what: str) -> None:
        seconds = time.perf_counter() - self.start
        traced = "-"
        if self.trace:
            traced = f"{tracemalloc.get_traced_memory()[1] / GB:.2f}"
            tracemalloc.reset_peak()
        self.rows.append(
            [
                stage,
                what,
                f"{seconds:.1f}",
                f"{rss_now() / GB:.2f}",
                f"{rss_peak() / GB:.2f}",
                traced,
            ]
        )
        print("  ".join(self.rows[-1]), flush=True)
        self.start = time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 cells x 500 genes")
    parser.add_argument("--cells", type=int, default=None)
    parser.add_argument("--genes", type=int, default=None)
    parser.add_argument("--query-cells", type=int, default=None)
    parser.add_argument("--pca", type=int, default=50, help="pca_components (default 50)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=4_096)
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations")
    parser.add_argument("--keep", type=Path, default=None, help="write the .npy files here")
    args = parser.parse_args()
    n_cells = args.cells or (10_000 if args.quick else 100_000)
    n_genes = args.genes or (500 if args.quick else 2_000)
    n_query = args.query_cells or n_cells // 5
    # --quick: small enough for obsm, sent to the .npy anyway so that its path runs
    max_obsm_values = 1_000_000 if args.quick else gbu_max_obsm_values()

    for line in header(("anndata", "pynndescent")):
        print(line)
    print(
        f"data: {n_cells:,} cells x {n_genes:,} genes (query {n_query:,}), pca_components="
        f"{args.pca}, epochs={args.epochs} (4 steps each), chunk_rows={args.chunk_rows}, "
        f"target: peak RSS < {TARGET_GB:.0f} GB (1e9 bytes)"
    )
    stages = Stages(args.tracemalloc)
    import torch  # noqa: F401  (its runtime is part of every fit's memory)

    from glass_box_umap import scanpy as gbu

    stages.end("start", "python, torch and glass_box_umap imported")

    rng = np.random.default_rng(0)
    profiles = counts_profiles(n_genes, 12, rng)
    X, types = synthetic_counts(n_cells, profiles, rng)
    adata = make_adata(X, types, "cell")
    density = X.nnz / (n_cells * n_genes)
    stages.end("data", f"CSR float32, {density:.1%} non-zero, {X.nnz:,} values")

    out = args.keep or Path(tempfile.mkdtemp(prefix="gbu_scanpy_memory_"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        reducer = gbu.fit(
            adata,
            groupby="cell_type",
            contributions_path=out / "contributions.npy",
            max_obsm_values=max_obsm_values,
            chunk_rows=args.chunk_rows,
            pca_components=args.pca,
            epochs=args.epochs,
            random_state=0,
            quiet=True,
        )
        info = adata.uns["glassbox_umap"]
        size = Path(info["contributions"]).stat().st_size
        stages.end("fit", f"contributions: {size / GB:.2f} GB .npy, groups table")
        assert scipy.sparse.issparse(adata.X)

        C = np.load(info["contributions"], mmap_mode="r")
        rows = np.random.default_rng(1).choice(n_cells, 256, replace=False)
        rows.sort()
        exact = reducer.compute_contributions(adata.X[rows])
        max_diff = float(np.abs(C[rows] - exact).max())
        del C
        stages.end("check", f"256 rows of the .npy vs compute_contributions: {max_diff:.1e}")

        Xq, types_q = synthetic_counts(n_query, profiles, np.random.default_rng(2))
        query = make_adata(Xq, types_q, "query")
        gbu.transform(
            query,
            reducer,
            contributions_path=out / "query_contributions.npy",
            max_obsm_values=max_obsm_values,
            chunk_rows=args.chunk_rows,
        )
        where = query.uns["glassbox_umap"]["contributions"]
        where = "obsm" if where.startswith("obsm/") else ".npy"
        stages.end("transform", f"query of {n_query:,} cells, contributions to {where}")
    finally:
        if args.keep is None:
            for path in out.glob("*"):
                path.unlink()
            out.rmdir()

    print()
    print(format_table(stages.rows))
    peak = rss_peak() / GB
    verdict = "under" if peak < TARGET_GB else "OVER"
    print(f"\npeak RSS {peak:.2f} GB: {verdict} the {TARGET_GB:.0f} GB target")
    return 0 if peak < TARGET_GB else 1


if __name__ == "__main__":
    sys.exit(main())
