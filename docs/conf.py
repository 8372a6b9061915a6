"""Sphinx configuration of the glass_box_umap documentation site.

The guide's pages are Python scripts (``docs/guide_src/*.py``) that sphinx-gallery executes at
build time: every figure, table and number on them is made by the build. With
``GLASS_BOX_UMAP_DOCS_QUICK=1`` in the environment the pages fit on less data and for fewer
epochs (see ``docs/guide_src/_docs_settings.py``), which is what CI builds.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import glass_box_umap

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "guide_src"))  # the pages' shared settings module
from _docs_settings import GENERATED, QUICK  # noqa: E402

project = "glass_box_umap"
author = "the glass_box_umap developers"
copyright = "2026, the glass_box_umap developers"  # noqa: A001
release = glass_box_umap.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "guide_src", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
default_role = "literal"

# --------------------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc sections carry the types, shapes and dtypes
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the class template lists members instead
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # validated in tests/test_docstrings.py

# ------------------------------------------------------------------------------ nitpicky
# The build machines reach package registries only, so intersphinx cannot download the
# inventories of numpy, scipy, scikit-learn, torch, Lightning, pandas or anndata at build
# time. By default no inventory is fetched and references to those packages' names are
# left unlinked (nitpick_ignore_regex below) instead of failing the nitpicky build; set
# GLASS_BOX_UMAP_DOCS_INTERSPHINX=1 on a machine with internet access to link them.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
if os.environ.get("GLASS_BOX_UMAP_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "lightning": ("https://lightning.ai/docs/pytorch/stable", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
        "anndata": ("https://anndata.readthedocs.io/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }
_EXTERNAL = (
    "numpy|np|scipy|sklearn|torch|nn|lightning|pl|pytorch_lightning|pandas|pd|anndata|"
    "matplotlib|mpl|bokeh|shap|pathlib|collections|typing|os|io|json|builtins|enum"
)
nitpick_ignore_regex = [
    ("py:.*", rf"({_EXTERNAL})(\..*)?"),
    # Builtin and typing names in signatures and docstrings.
    ("py:.*", r"(Any|Callable|Sequence|Iterable|Mapping|Path|Figure|Axes|ndarray|DataFrame)"),
]

# -------------------------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": ["guide_src"],
    "gallery_dirs": ["guide"],
    "filename_pattern": r"\.py$",  # every page is executed, not only plot_*.py
    "ignore_pattern": r"(^|[\\/])_[^\\/]*\.py$",  # _docs_settings.py is a module the pages import
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "min_reported_time": 0,
    "show_memory": False,
    "write_computation_times": True,
    "image_srcset": [],
    "backreferences_dir": None,
    "show_signature": False,
    # The pages run two at a time, each in its own process on one torch thread
    # (_docs_settings.py sets it): a page's fits are single-threaded either way, so the
    # second core nearly halves the build (full build: 11.5 minutes one page at a time,
    # 7 with two).
    "parallel": int(os.environ.get("GLASS_BOX_UMAP_DOCS_JOBS", "2")),
}

# ----------------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"glass_box_umap {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_static_path: list[str] = []
# Files the pages write for the site itself (the explorer's HTML), copied to the site root.
GENERATED.mkdir(parents=True, exist_ok=True)
html_extra_path = [str(GENERATED)]
html_show_sourcelink = False
html_context = {"default_mode": "light"}

if QUICK:
    rst_prolog = """
.. note::

   This site was built in quick mode (``GLASS_BOX_UMAP_DOCS_QUICK=1``): the pages fitted
   fewer points for fewer epochs, so their figures and numbers show that the code runs, not
   how well it works. ``make docs`` builds the full site.
"""


# Matplotlib's Agg backend for the executed pages; their plt.show() calls only mark figures.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing methods (``set_*_request``)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
