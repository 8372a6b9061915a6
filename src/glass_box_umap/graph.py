"""Deprecated: the old home of the neighbour search and the fuzzy graph.

It was split by concept: :mod:`glass_box_umap.nearest_neighbors` (metrics, the exact,
pynndescent and FAISS searches, given neighbours and distance matrices) and
:mod:`glass_box_umap.affinity` (kernel widths, membership strengths, the fuzzy union,
``EdgeList``, ``build_graph``). Each public name of the old module still resolves here,
with a ``FutureWarning`` naming its new module, for one release; pickles that refer to
``glass_box_umap.graph.EdgeList`` keep loading.
"""

from __future__ import annotations

import warnings
from typing import Any

# Private aliases: the old module's function nearest_neighbors must not be shadowed by
# the module of that name.
from . import affinity as _affinity
from . import nearest_neighbors as _neighbours

#: Each public name of the old module and the module that now defines it.
_MOVED = {
    **{
        name: _neighbours
        for name in (
            "ALL_METRICS",
            "EXACT_KNN_BLOCK_BYTES",
            "EXACT_KNN_GPU_BLOCK_BYTES",
            "EXACT_KNN_MAX_SAMPLES",
            "EXACT_METRIC_KWDS",
            "FAISS_HNSW_EF_CONSTRUCTION",
            "FAISS_HNSW_EF_SEARCH",
            "FAISS_HNSW_M",
            "FAISS_METRICS",
            "KNN_METHODS",
            "METRICS",
            "METRIC_ALIASES",
            "PRECOMPUTED",
            "PYNNDESCENT_METRICS",
            "SELF_DISTANCE_RTOL",
            "approximate_knn",
            "check_metric",
            "check_precomputed_knn",
            "exact_knn",
            "faiss_knn",
            "knn_from_distances",
            "nearest_neighbors",
            "resolve_knn_method",
        )
    },
    **{
        name: _affinity
        for name in (
            "DISCONNECTION_DISTANCES",
            "EdgeList",
            "build_graph",
            "check_fuzzy_set_params",
            "check_graph",
            "default_disconnection_distance",
            "fuzzy_simplicial_set",
            "smooth_knn_dist",
        )
    },
}

__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module = _MOVED[name].__name__
        warnings.warn(
            f"glass_box_umap.graph is split into glass_box_umap.nearest_neighbors and "
            f"glass_box_umap.affinity; import {name} from {module} (glass_box_umap.graph "
            "goes in the next release)",
            FutureWarning,
            stacklevel=2,
        )
        return getattr(_MOVED[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
