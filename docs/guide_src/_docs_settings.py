"""Settings the executed pages share: quick mode, threads, where pages write files for the site.

``GLASS_BOX_UMAP_DOCS_QUICK=1`` selects the quick build (CI's): the pages fit fewer points
for fewer epochs, so the whole site builds in a few minutes; its numbers then only show that
the code runs. Without it the pages use the data and settings their text describes.

Every page runs on one torch thread (``GLASS_BOX_UMAP_DOCS_THREADS`` changes it), and
sphinx-gallery runs two pages at a time (``GLASS_BOX_UMAP_DOCS_JOBS``, ``docs/conf.py``).
On a machine whose cores other work shares (this project's 2-core machines, CI), torch's
second thread waits for a core at every operation: a swiss-roll fit at batch_size=512 took
10x longer with two threads than with one. The pages' fit times are therefore
single-threaded, measured while another page runs on the other core (a batch_size=512
swiss-roll fit took 2-4% longer so than alone).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

QUICK = os.environ.get("GLASS_BOX_UMAP_DOCS_QUICK", "") not in ("", "0")
"""True in quick mode."""

torch.set_num_threads(int(os.environ.get("GLASS_BOX_UMAP_DOCS_THREADS", "1")))

DOCS = Path(__file__).resolve().parents[1]
REPO = DOCS.parent
GENERATED = DOCS / "_generated"
"""Files written here by a page (the explorer's HTML, animations) are copied to the site root."""

# The pages reuse the helpers of the repository's example and benchmark scripts.
for _folder in (REPO / "examples", REPO / "benchmarks"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


def epochs(full: int = 200, quick: int = 10) -> int:
    """The number of epochs a page trains for: ``full``, or ``quick`` in quick mode.

    Parameters
    ----------
    full : int, default 200
        Epochs in the full build.
    quick : int, default 10
        Epochs in quick mode.

    Returns
    -------
    int
        The number for this build.
    """
    return quick if QUICK else full


def site_file(name: str) -> Path:
    """Path of a file a page writes for the site; it is served at the site root.

    Parameters
    ----------
    name : str
        File name.

    Returns
    -------
    Path
        ``docs/_generated/<name>``; a page links it as ``../<name>``.
    """
    GENERATED.mkdir(parents=True, exist_ok=True)
    return GENERATED / name
