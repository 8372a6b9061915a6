"""AnnData / scanpy integration: fit on an ``AnnData`` and store results where scanpy looks.

Needs the ``io`` extra (``pip install glass_box_umap[io]``) for :mod:`anndata`; scanpy
itself is not required. ::

    from glass_box_umap import scanpy as gbu
    reducer = gbu.fit(adata, use_rep="X_pca", groupby="leiden", random_state=0)
    adata.obsm["X_glassbox_umap"]          # (n_obs, n_components)
    adata.obsm["X_glassbox_umap_contributions"]   # (n_obs, n_components, n_features)
    adata.uns["glassbox_umap"]["groups"]   # explain_groups table, as columns

What ends up where:

* ``obsm[key_added]``: the embedding (plot it with ``sc.pl.embedding(adata, basis=...)``).
* contributions, shape (n_obs, n_components, n_features): in
  ``obsm[key_added + '_contributions']`` when they hold at most ``max_obsm_values``
  numbers, otherwise in a compressed ``.npz`` file next to ``contributions_path`` (its
  path is recorded in ``uns``), so that a large atlas does not balloon the ``.h5ad``.
* feature summaries: when the features are the variables (``use_rep=None`` or a
  ``layer``), ``varm[key_added + '_mean_abs']`` holds each gene's mean absolute
  contribution per embedding axis and ``var[key_added + '_l2_share']`` its mean share of
  the contribution length. For another representation (``X_pca``), these go in ``uns``
  with the representation's column names.
* ``uns[uns_key]``: parameters, feature names, where the contributions are, and with
  ``groupby``, the :func:`~glass_box_umap.explain.explain_groups` table as a dict of columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .estimator import GlassBoxUMAP
from .explain import explain_groups, l2_share

#: Contributions with more numbers than this go to a file instead of ``obsm``.
MAX_OBSM_VALUES = 50_000_000


def _representation(
    adata: Any, use_rep: str | None, layer: str | None
) -> tuple[Any, list[str], bool]:
    """The matrix to fit, its feature names, and whether the features are ``var``."""
    if use_rep is not None and layer is not None:
        raise ValueError("use_rep, layer: give at most one of them")
    if use_rep is not None:
        if use_rep not in adata.obsm:
            raise ValueError(
                f"use_rep: {use_rep!r} is not in adata.obsm (keys: {list(adata.obsm.keys())})"
            )
        X = adata.obsm[use_rep]
        X = X.to_numpy() if hasattr(X, "to_numpy") else X
        return X, [f"{use_rep}_{j}" for j in range(np.shape(X)[1])], False
    if layer is not None:
        if layer not in adata.layers:
            raise ValueError(f"layer: {layer!r} is not in adata.layers ({list(adata.layers)})")
        return adata.layers[layer], [str(v) for v in adata.var_names], True
    return adata.X, [str(v) for v in adata.var_names], True


def fit(
    adata: Any,
    use_rep: str | None = None,
    layer: str | None = None,
    groupby: str | None = None,
    key_added: str = "X_glassbox_umap",
    uns_key: str = "glassbox_umap",
    contributions_path: str | Path | None = None,
    max_obsm_values: int = MAX_OBSM_VALUES,
    **params: Any,
) -> GlassBoxUMAP:
    """Fit :class:`GlassBoxUMAP` on ``adata`` and write embedding, contributions and summaries.

    Parameters
    ----------
    adata : anndata.AnnData
        Modified in place.
    use_rep : str, optional
        An ``obsm`` key to fit on (for example ``'X_pca'``); contributions are then per
        column of that representation.
    layer : str, optional
        A layer to fit on instead of ``X``; contributions are per gene.
    groupby : str, optional
        An ``obs`` column; its groups are explained with :func:`explain_groups`.
    key_added : str, default 'X_glassbox_umap'
        ``obsm`` key of the embedding (and prefix of the other keys).
    uns_key : str, default 'glassbox_umap'
    contributions_path : str or Path, optional
        Where to write contributions too large for ``obsm``; default
        ``./<key_added>_contributions.npz``.
    max_obsm_values : int, default 50,000,000
        Largest contribution array kept in ``obsm``.
    **params
        :class:`GlassBoxUMAP` parameters.

    Returns
    -------
    GlassBoxUMAP
        The fitted reducer.
    """
    import scipy.sparse

    if not hasattr(adata, "obsm") or not hasattr(adata, "var_names"):
        raise TypeError(f"adata: expected an AnnData, got {type(adata).__name__}")
    if groupby is not None and groupby not in adata.obs:
        raise ValueError(f"groupby: {groupby!r} is not an obs column ({list(adata.obs.columns)})")
    X, names, features_are_var = _representation(adata, use_rep, layer)
    if scipy.sparse.issparse(X):
        X = X.toarray()
    reducer = GlassBoxUMAP(**params)
    embedding = reducer.fit_transform(np.asarray(X))
    contributions = reducer.compute_contributions(np.asarray(X))

    adata.obsm[key_added] = embedding
    info: dict[str, Any] = {
        "params": {
            k: v for k, v in reducer.get_params().items() if isinstance(v, (int, float, str))
        },
        "use_rep": use_rep or "",
        "layer": layer or "",
        "feature_names": names,
    }
    if contributions.size <= max_obsm_values:
        adata.obsm[f"{key_added}_contributions"] = contributions
        info["contributions"] = f"obsm/{key_added}_contributions"
    else:
        path = Path(contributions_path or f"{key_added}_contributions.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            contributions=contributions,
            feature_names=np.asarray(names),
            obs_names=np.asarray([str(o) for o in adata.obs_names]),
        )
        info["contributions"] = str(path)

    mean_abs = np.abs(contributions).mean(axis=0).T  # (n_features, n_components)
    share = l2_share(contributions).mean(axis=0)
    if features_are_var:
        adata.varm[f"{key_added}_mean_abs"] = mean_abs
        adata.var[f"{key_added}_l2_share"] = share
    else:
        info["mean_abs"] = mean_abs
        info["l2_share"] = share
    if groupby is not None:
        groups = adata.obs[groupby].astype(str).to_numpy()
        table = explain_groups(contributions, groups, feature_names=names)
        info["groups"] = {c: table[c].to_numpy() for c in table.columns}
    adata.uns[uns_key] = info
    return reducer


__all__ = ["MAX_OBSM_VALUES", "fit"]
