"""What every benchmark prints: the machine and versions, and aligned tables."""

from __future__ import annotations

import ast
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np


def header(extra_packages: tuple[str, ...] = ()) -> list[str]:
    """Machine and version lines printed before a table.

    Parameters
    ----------
    extra_packages : tuple of str
        Distribution names (e.g. ``"umap-learn"``) whose versions are added.
    """
    import torch

    import glass_box_umap

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    device = f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "GPU: none"
    versions = []
    for name in ("lightning", "scikit-learn", *extra_packages):
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} not installed")
    return [
        f"machine: {platform.platform()} ({platform.machine()}), "
        f"CPUs: {os.cpu_count()} ({usable} usable), torch threads: {torch.get_num_threads()}, "
        f"{device}",
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        + ", ".join(versions)
        + f", glass_box_umap {glass_box_umap.__version__}",
    ]


def format_table(rows: list[list[str]], n_left: int = 2) -> str:
    """Align columns: the first ``n_left`` to the left, the rest to the right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i < n_left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``['lr=0.01', 'input_noise=0']`` -> ``{'lr': 0.01, 'input_noise': 0}``.

    Values are Python literals (numbers, None, dicts); anything else stays a string.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set: expected name=value, got {pair!r}")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params
