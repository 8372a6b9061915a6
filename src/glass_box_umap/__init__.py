"""glass_box_umap: parametric UMAP with exact, per-feature explanations of every point."""

from .encoders import available_encoders, register_encoder
from .estimator import GlassBoxUMAP

__version__ = "0.1.0"

__all__ = ["GlassBoxUMAP", "__version__", "available_encoders", "register_encoder"]
