"""The installed package's version, read from its metadata (one source: pyproject.toml)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The version of the installed ``glass_box_umap``; ``'unknown'`` from an uninstalled tree."""
    try:
        return version("glass_box_umap")
    except PackageNotFoundError:
        return "unknown"
