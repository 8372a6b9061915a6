"""Scaling: nearest neighbours, graph, training speed, memory and quality from 20k to 1M rows.

Synthetic data: a mixture of 10 Gaussian clusters, each spread along its own 5-dimensional
subspace of the n x d space (plus isotropic noise), so that neighbourhoods have structure
to preserve. Every case runs in its own process, so that its peak memory is its own:

    python benchmarks/scale.py --device auto --suite full

An epoch is ``ceil(120_000 / batch_size)`` steps whatever n (12 at the default batch size,
see ``glass_box_umap.training.steps_per_epoch``), so a default fit here is 2,400 steps at
any size. ``--suite full`` on CUDA: 70k x 784 at the defaults (200 epochs, CUDA graphs), the
same for 20 epochs eagerly and in bf16-mixed, then 1M x 50 at the defaults and at batch
100k (200 epochs of one step). On the CPU: 100k x 50 and 1M x 50 at the defaults.
``--suite quick``: 20k x 50 for 2 epochs. ``--quick``: 2k x 20 for 2 epochs, seconds, a
test that the script runs (its figures mean nothing). The GPU suite is sized to finish in
about 8 minutes on an H100 (it prints each row as soon as its case ends).

Columns: seconds for the kNN search and for the fuzzy graph; seconds per epoch (median
over epochs after the first, which includes warm-up and graph capture); the baseline's
seconds per epoch, a plain eager PyTorch loop with on-device sampling run in the same
process on the same graph (:func:`plain_pytorch_epoch_seconds`, estimated from
``PLAIN_STEPS`` steps), and its ratio to ours; edges sampled per second (median); the
whole ``fit`` (graph, training, final embedding); peak resident host memory
(``ru_maxrss``) and peak CUDA memory allocated, both by the fit, in GiB (2**30 bytes);
trustworthiness (15 neighbours) of the embedding of a 5,000-row subsample (``TRUST_ROWS``),
not of all rows. Nothing here asserts a speed.

The baseline is given the same negatives as ours, so that the two sample, encode and score
the same pairs with the same loss: it encodes the head and the tail of every edge (two
forward passes, ``2 x batch_size`` rows, 20k at batch 10k) and pairs each head with
``negative_sample_rate`` rows drawn uniformly from those it encoded, with no forward pass of
their own. That is our static-shape step (``'ends'``, used on CUDA) written by hand; on the
CPU ours encodes each distinct edge end once (``'unique'``, about 18k rows at batch 10k) and
draws negatives among those, uniform over vertices rather than weighted by degree
(``benchmarks/sampling_modes.py`` measures that the two give the same quality), and where
the graph has no more vertices than a step would encode (the ``--quick`` and ``--suite
quick`` cases) ours encodes every point and draws negatives among all of them. Our step also
draws the training noise of every encoded row (neighbour and across noise) and normalises
the hidden units (batch RMS), which the baseline does not: the ratio is the speed of our
step, with that recipe, against the bare computation in a plain loop (0.75x at 100k and
0.74x at 1M on 2 CPU cores, 2026-12-06; level before the recipe). The baseline runs
``PLAIN_STEPS`` steps, for timing only, and is not scored. (Before this change the baseline
drew ``5`` uniform negatives per edge from all points and encoded them, ``(2 + 5) x
batch_size`` rows, 70k at batch 10k: unequal work, the 3.7-4.3x of earlier README versions.)

Peak memory per million points (d = 50, n_neighbors = 15: about 18 directed edges per
point), from ``python benchmarks/scale.py --device cpu --suite full`` on 2 CPU cores (the
run ``docs/scale.rst`` quotes, 2026-12-06): 3.87 GiB resident for the whole fit of 1M x 50
(defaults, pynndescent), 1.78 GiB for 100k x 50; about 0.4-0.5 GiB of that is the Python,
torch and Lightning runtime. What scales with n, per million points: the data and its
centred float32 copy (2 x 4d bytes per point, 0.37 GiB), the kNN result (0.17 GiB),
pynndescent's index while it searches (about 1 GiB more than FAISS HNSW took), the sparse
fuzzy union while it is built (about 1 GiB, transient), the edge list (20 bytes per
directed edge, 0.34 GiB), the edge sampler's and the neighbour noise's alias tables (16
bytes per directed edge each, 0.27 GiB each, and while each is built about 54 bytes per
edge of temporaries, ``benchmarks/alias_memory.py``) and the across noise's bases (at
most 256 MiB, ``glass_box_umap.sampling.ACROSS_MAX_VALUES``). On a GPU the training device
holds the data (4d bytes per point) and 56 bytes per directed edge (the sampler's 32, the
neighbour noise's 24: 1.0 GiB per million points), the across noise's bases, plus one
batch's activations; no tensor the size of an epoch is ever drawn.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import format_table, header  # noqa: E402

#: name -> (rows, columns, GlassBoxUMAP keyword arguments, CUDA graphs)
CASES: dict[str, tuple[int, int, dict, bool]] = {
    "70k x 784, defaults": (70_000, 784, {}, True),
    "70k x 784, 20 ep, eager": (70_000, 784, {"epochs": 20}, False),
    "70k x 784, 20 ep, bf16": (
        70_000,
        784,
        {"epochs": 20, "trainer_kwargs": {"precision": "bf16-mixed"}},
        True,
    ),
    "1M x 50, batch 10k": (1_000_000, 50, {}, True),
    "1M x 50, batch 100k": (1_000_000, 50, {"batch_size": 100_000}, True),
    "100k x 50, defaults": (100_000, 50, {}, True),
    "1M x 50, defaults": (1_000_000, 50, {}, True),
    "20k x 50, 2 ep": (20_000, 50, {"epochs": 2}, True),
    "2k x 20, 2 ep": (2_000, 20, {"epochs": 2}, True),
}
SUITES = {
    ("cuda", "full"): [
        "70k x 784, defaults",
        "70k x 784, 20 ep, eager",
        "70k x 784, 20 ep, bf16",
        "1M x 50, batch 10k",
        "1M x 50, batch 100k",
    ],
    ("cpu", "full"): ["100k x 50, defaults", "1M x 50, defaults"],
    ("cuda", "quick"): ["20k x 50, 2 ep"],
    ("cpu", "quick"): ["20k x 50, 2 ep"],
    ("cuda", "smoke"): ["2k x 20, 2 ep"],
    ("cpu", "smoke"): ["2k x 20, 2 ep"],
}
#: Steps timed for the plain-PyTorch baseline (an estimate of its epoch, not a whole one).
PLAIN_STEPS = 20
#: Rows of the subsample whose embedding is scored.
TRUST_ROWS = 5_000


def make_data(
    n: int,
    d: int,
    n_clusters: int = 10,
    rank: int = 5,
    seed: int = 0,
    return_labels: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """A mixture of ``n_clusters`` low-rank Gaussians, shape (n, d), float32.

    Built 50k rows at a time, so that float64 temporaries stay small beside the result.
    With ``return_labels``, also each row's cluster, shape (n,), int64.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (n_clusters, d))
    bases = rng.normal(0.0, 1.0, (n_clusters, rank, d))
    X = np.empty((n, d), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        label = rng.integers(0, n_clusters, m)
        labels[start : start + m] = label
        rows = 0.3 * rng.normal(0.0, 1.0, (m, d))
        for c in range(n_clusters):
            mine = label == c
            rows[mine] += centres[c] + rng.normal(0.0, 1.0, (int(mine.sum()), rank)) @ bases[c]
        X[start : start + m] = rows
    return (X, labels) if return_labels else X


def plain_pytorch_epoch_seconds(
    X: np.ndarray,
    edges,
    batch_size: int,
    negative_sample_rate: int,
    device: str,
    steps: int = PLAIN_STEPS,
) -> float:
    """Seconds per epoch of a plain eager PyTorch loop on the same graph: the baseline.

    What one writes without this package's step, given our negatives: edges drawn on
    the device in proportion to their weight, head and tail each encoded by their own
    forward pass (``2 x batch`` rows), and each head paired with ``negative_sample_rate``
    negatives drawn uniformly from those encoded rows (no forward pass of their own);
    the same encoder (default MLP), UMAP loss and fused Adam. Timed over ``steps`` steps
    after 3 warm-up steps, and scaled to the estimator's steps per epoch.
    """
    import torch

    from glass_box_umap.encoders import MLPEncoder
    from glass_box_umap.loss import find_ab_params, umap_loss
    from glass_box_umap.training import steps_per_epoch

    dev = torch.device(device)
    generator = torch.Generator(device=dev).manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        encoder = MLPEncoder(X.shape[1], 2).to(dev)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3, fused=True)
    data = torch.as_tensor(X - X.mean(axis=0), dtype=torch.float32, device=dev)
    head = torch.as_tensor(edges.head, device=dev)
    tail = torch.as_tensor(edges.tail, device=dev)
    cdf = torch.cumsum(torch.as_tensor(edges.weight, dtype=torch.float64, device=dev), 0)
    cdf /= cdf[-1].clone()
    a, b = find_ab_params(1.0, 0.1)

    def step() -> None:
        u = torch.rand(batch_size, generator=generator, device=dev, dtype=torch.float64)
        edge = torch.searchsorted(cdf, u).clamp_max_(len(edges.head) - 1)
        emb_head = encoder(data[head[edge]])
        emb_tail = encoder(data[tail[edge]])
        # Our negatives: rows this step encoded, not a third forward pass over all points.
        neg = torch.randint(
            2 * batch_size, (batch_size * negative_sample_rate,), generator=generator, device=dev
        )
        loss, _, _ = umap_loss(
            emb_head,
            emb_tail,
            torch.cat([emb_head, emb_tail])
            .index_select(0, neg)
            .view(batch_size, negative_sample_rate, -1),
            a,
            b,
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    for _ in range(3):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    per_step = (time.perf_counter() - start) / steps
    return per_step * steps_per_epoch(batch_size, None)


def run_case(name: str, device: str) -> dict:
    """Fit one case in this process; the figures of its row."""
    import torch
    from sklearn.manifold import trustworthiness

    from glass_box_umap import GlassBoxUMAP, affinity, training
    from glass_box_umap.nearest_neighbors import resolve_knn_method

    n, d, kwargs, graphs = CASES[name]
    training.USE_CUDA_GRAPHS = graphs
    kwargs = dict(kwargs)
    if device == "cpu":
        kwargs["trainer_kwargs"] = {**kwargs.get("trainer_kwargs", {}), "accelerator": "cpu"}
    X = make_data(n, d)

    # Time the two halves of build_graph where the estimator calls them.
    seconds: dict[str, float] = {}

    def timed(fn, key):
        def wrapper(*args, **kw):
            start = time.perf_counter()
            out = fn(*args, **kw)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds[key] = time.perf_counter() - start
            return out

        return wrapper

    # Patched where build_graph looks them up.
    affinity.nearest_neighbors = timed(affinity.nearest_neighbors, "knn")
    affinity.fuzzy_simplicial_set = timed(affinity.fuzzy_simplicial_set, "graph")
    method = resolve_knn_method(
        kwargs.get("knn_method", "auto"), n, "euclidean", "cuda" if device == "cuda" else None
    )
    reducer = GlassBoxUMAP(random_state=0, quiet=True, **kwargs)
    start = time.perf_counter()
    reducer.fit(X)
    fit_s = time.perf_counter() - start

    # Peak memory of the fit itself, before the baseline allocates its own.
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    cuda_gb = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
    plain_epoch_s = plain_pytorch_epoch_seconds(
        X, reducer.graph_, reducer.batch_size, reducer.negative_sample_rate, device
    )
    epoch_times = np.diff([0.0, *reducer.history_["time"]])
    rng = np.random.default_rng(1)
    rows = rng.choice(n, min(TRUST_ROWS, n), replace=False)
    trust = trustworthiness(X[rows], reducer.embedding_[rows], n_neighbors=15)
    return {
        "case": name,
        "knn": method,
        "knn_s": seconds["knn"],
        "graph_s": seconds["graph"],
        "n_edges": len(reducer.graph_.head),
        "epoch_s": float(np.median(epoch_times[1:] if len(epoch_times) > 1 else epoch_times)),
        "edges_per_s": float(np.median(reducer.history_["edges_per_s"])),
        "plain_epoch_s": plain_epoch_s,
        "fit_s": fit_s,
        "rss_gb": rss_gb,
        "cuda_gb": cuda_gb,
        "trust": float(trust),
    }


def _si(x: float) -> str:
    """``x`` with a k or M suffix and three significant digits."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _row(r: dict) -> list[str]:
    return [
        r["case"],
        r["knn"],
        f"{r['knn_s']:.1f}",
        f"{r['graph_s']:.1f}",
        _si(r["n_edges"]),
        f"{r['epoch_s']:.3f}",
        f"{r['plain_epoch_s']:.3f}",
        f"{r['plain_epoch_s'] / r['epoch_s']:.1f}x",
        _si(r["edges_per_s"]),
        f"{r['fit_s']:.1f}",
        f"{r['rss_gb']:.2f}",
        f"{r['cuda_gb']:.2f}",
        f"{r['trust']:.4f}",
    ]


COLUMNS = [
    "case",
    "kNN",
    "kNN s",
    "graph s",
    "edges",
    "s/epoch",
    "plain s/epoch",
    "speed-up",
    "edges/s",
    "fit s",
    "RSS GiB",
    "CUDA GiB",
    "trust",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--suite", choices=["full", "quick"], default="full")
    parser.add_argument("--case", help="run one case (by name) in this process, print JSON")
    parser.add_argument("--quick", action="store_true", help="2k x 20, 2 epochs: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.suite = "smoke"
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.case is not None:
        print(json.dumps(run_case(args.case, device)))
        return

    print("\n".join(header(("pynndescent", "faiss-cpu", "faiss-gpu"))))
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device: cuda asked for, but torch sees no CUDA device")
    print(f"device: {device}, suite: {args.suite}", flush=True)
    rows = [COLUMNS]
    results = {}
    for name in SUITES[(device, args.suite)]:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--device", device, "--case", name],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        took = time.perf_counter() - start
        if proc.returncode != 0:
            print(f"{name}: failed after {took:.0f} s\n{proc.stderr[-2000:]}", flush=True)
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] = result
        rows.append(_row(result))
        print(f"{name}: done in {took:.0f} s: {json.dumps(result)}", flush=True)
    print()
    print(format_table(rows, n_left=2))
    graphed, eager = results.get("70k x 784, defaults"), results.get("70k x 784, 20 ep, eager")
    if graphed and eager:
        ratio = eager["epoch_s"] / graphed["epoch_s"]
        print(f"\nCUDA graphs at 70k x 784: {ratio:.2f}x the speed per epoch of the eager row")


if __name__ == "__main__":
    main()
