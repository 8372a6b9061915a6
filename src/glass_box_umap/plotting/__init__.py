"""Static plots of embeddings (matplotlib). Functions return figures; none calls ``show``."""

from .static import plot_embedding

__all__ = ["plot_embedding"]
