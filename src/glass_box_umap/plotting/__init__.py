"""Views of embeddings, contributions and training.

Static figures (matplotlib) from :mod:`.static` and :mod:`.training`; every function
returns its Figure and none calls ``plt.show()``.
"""

from .static import plot_embedding, plot_feature_contribution, plot_top_features
from .training import plot_loss, plot_training, save_animation

__all__ = [
    "plot_embedding",
    "plot_feature_contribution",
    "plot_loss",
    "plot_top_features",
    "plot_training",
    "save_animation",
]
