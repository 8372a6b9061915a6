"""Peak memory of building a fit's Walker alias tables, against a cumulative-weights table.

Usage::

    python benchmarks/alias_memory.py [--values 10000000] [--quick]

A fit builds two sets of alias tables once, on the training device
(:func:`glass_box_umap.sampling.alias_tables`): the edge sampler's, one group of all the
graph's directed edges, and the neighbour noise's, one group per vertex. A million-point
graph at ``n_neighbors=15`` holds some 20-30 million directed edges, so the build's
temporaries, not the tables, set the fit's peak there. Each build here runs in a fresh
Python process on ``--values`` random weights (``U(0, 1)**3``, float64), in one group and
in groups of 30; printed: its seconds and its peak resident memory above what the
process held before (``ru_maxrss``), in MB and in bytes per value, beside the tables' own
16 bytes per value (``prob`` float64 and ``alias`` int64). The baseline, timed the same
way: the cumulative weights a binary-search sampler draws from (``torch.cumsum``, what
the sampler built before the alias tables), and its ratio. ``--quick``: 200,000 values.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import format_table, header

#: Run in a fresh process: builds one table and prints {"seconds", "peak_mb"} as JSON.
CHILD = r"""
import json, resource, sys, time
import torch
from glass_box_umap.sampling import alias_tables

kind, layout, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
generator = torch.Generator().manual_seed(0)
# In place: no temporary may raise the high-water mark before the build starts.
weight = torch.rand(n, generator=generator, dtype=torch.float64).pow_(3)
size = n if layout == "one group" else 30
counts = torch.full((n // size,), size)
if n % size:
    counts = torch.cat([counts, torch.tensor([n % size])])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if kind == "alias tables":
    tables = alias_tables(weight, counts)
else:
    tables = torch.cumsum(weight, 0)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": (peak - before) / 1024}))
"""


def build(kind: str, layout: str, n: int) -> dict[str, float]:
    """Seconds and peak MB of one build, in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, layout, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Build each table in its own process and print the table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 values")
    args = parser.parse_args(argv)
    n = 200_000 if args.quick else args.values
    if n < 30:
        parser.error(f"--values: expected at least 30, got {n}")
    for line in header():
        print(line)
    print(f"{n:,} float64 weights, each build in a fresh process; peak = ru_maxrss growth")
    print()
    rows = [["table", "layout", "seconds", "peak MB", "bytes / value", "peak / cumsum's"]]
    for layout in ("one group", "groups of 30"):
        base = build("cumulative weights", layout, n)
        ours = build("alias tables", layout, n)
        for kind, got in (("cumulative weights", base), ("alias tables", ours)):
            rows.append(
                [
                    kind,
                    layout,
                    f"{got['seconds']:.2f}",
                    f"{got['peak_mb']:.0f}",
                    f"{got['peak_mb'] * 2**20 / n:.0f}",
                    f"{got['peak_mb'] / max(base['peak_mb'], 1e-9):.1f}x",
                ]
            )
    print(format_table(rows))
    print()
    print("the tables themselves: 16 bytes per value (float64 prob, int64 alias)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
