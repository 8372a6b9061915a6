"""glass_box_umap: parametric UMAP with exact, per-feature explanations of every point.

The public names below are imported on first use (PEP 562), so that ``import
glass_box_umap`` is cheap and a script that only loads a model and embeds with it never
pays for what it does not use (scikit-learn, Lightning, plotting).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._metadata import package_version

__version__ = package_version()

#: Each public name and the module that defines it.
_EXPORTS = {
    "EmbeddingSnapshots": "callbacks",
    "ExactnessReport": "exactness",
    "ExactnessWarning": "exactness",
    "GlassBoxUMAP": "estimator",
    "available_encoders": "encoders",
    "check_exactness": "exactness",
    "contributions_frame": "explain",
    "explain_difference": "explain",
    "explain_groups": "explain",
    "register_encoder": "encoders",
    "top_features": "explain",
    "unregister_encoder": "encoders",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
