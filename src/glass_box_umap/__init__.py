"""glass_box_umap: parametric UMAP with exact, per-feature explanations of every point."""

from typing import Any

from .encoders import available_encoders, register_encoder, unregister_encoder
from .estimator import GlassBoxUMAP
from .exactness import ExactnessReport, ExactnessWarning, check_exactness
from .explain import contributions_frame, explain_difference, explain_groups, top_features
from .persistence import package_version

__version__ = package_version()

__all__ = [
    "EmbeddingSnapshots",
    "ExactnessReport",
    "ExactnessWarning",
    "GlassBoxUMAP",
    "__version__",
    "available_encoders",
    "check_exactness",
    "contributions_frame",
    "explain_difference",
    "explain_groups",
    "register_encoder",
    "top_features",
    "unregister_encoder",
]


def __getattr__(name: str) -> Any:
    # Callbacks import Lightning, which takes seconds; pay for it only when asked.
    if name == "EmbeddingSnapshots":
        from .callbacks import EmbeddingSnapshots

        return EmbeddingSnapshots
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
