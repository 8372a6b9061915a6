"""Views of embeddings, contributions and training.

Static figures (matplotlib) from :mod:`.static` and :mod:`.training`; every function
returns its Figure and none calls ``plt.show()``. The interactive explorer (Bokeh,
standalone HTML) is :func:`explore` / :func:`save_explorer` from :mod:`.interactive`.
"""

from typing import Any

from .static import plot_embedding, plot_feature_contribution, plot_top_features
from .training import plot_loss, plot_training, save_animation

__all__ = [
    "explore",
    "plot_embedding",
    "plot_feature_contribution",
    "plot_loss",
    "plot_top_features",
    "plot_training",
    "save_animation",
    "save_explorer",
]


def __getattr__(name: str) -> Any:
    # Bokeh is imported only when the explorer is asked for.
    if name in ("explore", "save_explorer"):
        from . import interactive

        return getattr(interactive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
