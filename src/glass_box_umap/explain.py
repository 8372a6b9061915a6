"""From per-sample contributions to answers about groups of samples.

All functions take the exact contributions ``C`` of shape (n_samples, n_components,
n_features) returned by :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`, for which
``C[i].sum(-1)`` is sample ``i``'s embedding. Averages of contributions therefore add
up to averages of positions, and a distance between group centroids splits exactly
into per-feature parts — no sampling, no surrogate model.

Feature names come from ``feature_names`` (for example ``reducer.feature_names_in_``,
remembered when the model was fitted on a DataFrame), or ``x0, x1, ...``.

Contributions of images, (n_samples, n_components, C, H, W), are accepted too: every
pixel of every channel is a feature, named ``x[c,h,w]`` unless ``feature_names`` (one
per pixel, in C order) are given.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_contributions, resolve_feature_names

#: Relative tolerance for ``embedding`` against the contributions' sums.
_SUM_RTOL = 1e-4


def _sample_shape(contributions: Any) -> tuple[int, ...]:
    """The shape of one sample's contributions to one axis: (n_features,) or input_shape."""
    return tuple(np.shape(contributions)[2:])


def _component_columns(values: np.ndarray, prefix: str, legacy: str) -> dict[str, np.ndarray]:
    """Columns ``{prefix}0 ...`` for the rows of ``values`` (one per embedding component),
    then the deprecated 1-based ``{legacy}1 ...`` spellings of them, kept for one release."""
    columns = {f"{prefix}{k}": v for k, v in enumerate(values)}
    columns.update({f"{legacy}{k + 1}": v for k, v in enumerate(values)})
    return columns


def _check_groups(groups: Any, n_samples: int) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.shape != (n_samples,):
        raise ValueError(f"groups: expected shape ({n_samples},), got {groups.shape}")
    if groups.dtype.kind == "f" and np.isnan(groups).any():
        raise ValueError("groups: contains NaN; give unlabelled samples their own label")
    if groups.dtype.kind == "O":
        missing = np.flatnonzero(pd.isna(groups))
        if missing.size:
            raise ValueError(
                f"groups: {missing.size} missing labels (None or NaN), at rows "
                f"{missing[:5].tolist()}; give unlabelled samples their own label"
            )
    return groups


def l2_share(contributions: np.ndarray) -> np.ndarray:
    """Per sample, each feature's share of the summed contribution lengths, (n, n_features).

    A sample whose every contribution is zero (it sits at the mean) gets zero shares.
    """
    lengths = np.linalg.norm(contributions, axis=1)
    total = lengths.sum(axis=1, keepdims=True)
    return np.divide(lengths, total, out=np.zeros_like(lengths), where=total > 0)


def explain_groups(
    contributions: Any, groups: Any, feature_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """What places each group where it is: one row per (group, feature).

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features)
        Float contributions, from :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`
        or :func:`glass_box_umap.paths.path_contributions`. Those of images,
        (n_samples, n_components, \\*input_shape), are read flattened in C order.
    groups : array of shape (n_samples,)
        Group label of each sample (cluster, cell type, class ...).
    feature_names : sequence of str, optional
        One name per feature (per pixel, in C order, for images), for example
        ``reducer.feature_names_in_``; ``x0, x1, ...`` (``x[c,h,w]``) when omitted.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``feature``, ``n_samples``; ``mean_component0 ...``, the
        group's mean signed contribution along each embedding component, numbered from 0
        like ``component=`` and ``get_feature_names_out`` (they sum over features to the
        group's centroid; the 1-based ``mean_axis1 ...`` copies are deprecated and go in
        the next release); ``mean_l2``, the mean length of the
        feature's contribution vector; ``l2_share``, the mean over the group's samples
        of the feature's share of the sample's summed contribution lengths (shares sum
        to 1 per group); ``rank``, 1 for the largest ``l2_share`` in the group. Sorted by
        group, then rank.
    """
    C = check_contributions(contributions).astype(np.float64, copy=False)
    n, n_components, n_features = C.shape
    groups = _check_groups(groups, n)
    names = resolve_feature_names(feature_names, _sample_shape(contributions))
    shares = l2_share(C)
    lengths = np.linalg.norm(C, axis=1)
    frames = []
    for group in np.unique(groups):
        mask = groups == group
        frame = pd.DataFrame(
            {
                "group": np.repeat(group, n_features),
                "feature": names,
                "n_samples": int(mask.sum()),
                **_component_columns(C[mask].mean(axis=0), "mean_component", "mean_axis"),
                "mean_l2": lengths[mask].mean(axis=0),
                "l2_share": shares[mask].mean(axis=0),
            }
        )
        frame["rank"] = frame["l2_share"].rank(ascending=False, method="first").astype(int)
        frames.append(frame.sort_values("rank"))
    return pd.concat(frames, ignore_index=True)


def _check_mask(mask: Any, n_samples: int, name: str) -> np.ndarray:
    if isinstance(mask, (int, np.integer)) and not isinstance(mask, (bool, np.bool_)):
        mask = [mask]  # one sample
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        if mask.shape != (n_samples,):
            raise ValueError(f"{name}: boolean mask of shape {mask.shape}, expected ({n_samples},)")
        index = np.flatnonzero(mask)
    elif mask.dtype.kind in "iu" and mask.ndim == 1:
        if mask.size and (mask.min() < -n_samples or mask.max() >= n_samples):
            raise ValueError(f"{name}: indices out of range for {n_samples} samples")
        index = np.unique(mask % n_samples)
    else:
        raise TypeError(f"{name}: expected a boolean mask or integer indices, got {mask.dtype}")
    if index.size == 0:
        raise ValueError(f"{name}: selects no samples")
    return index


def explain_difference(
    contributions: Any,
    embedding: Any,
    mask_a: Any,
    mask_b: Any,
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Which features move group A's points away from group B's (or sample ``i`` from ``j``).

    Let ``u`` be the unit vector from B's centroid to A's centroid in the embedding and
    ``gap`` their distance. Feature ``j`` moves A away from B by
    ``g_j = mean_{i in A} C[i, :, j] . u - mean_{i in B} C[i, :, j] . u``. Because the
    contributions sum exactly to the embedding, ``sum_j g_j = gap``: the shares
    ``g_j / gap`` sum to 1 up to floating-point error (``attrs['residual']`` reports
    ``1 - sum(shares)``). A negative share pulls the groups together.

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features)
        Float contributions, from :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`
        or :func:`glass_box_umap.paths.path_contributions`. Those of images,
        (n_samples, n_components, \\*input_shape), are read flattened in C order.
    embedding : array of shape (n_samples, n_components)
        The embedding the contributions explain (``transform`` of the same ``X``).
    mask_a, mask_b : boolean array of shape (n_samples,), integer indices, or one index
        The two groups; a single index compares one sample with another.
    feature_names : sequence of str, optional
        One name per feature (per pixel, in C order, for images), for example
        ``reducer.feature_names_in_``; ``x0, x1, ...`` (``x[c,h,w]``) when omitted.

    Notes
    -----
    Per sample, exactly: with contributions relative to sample ``j`` (the exact path
    attributions ``C = reducer.compute_contributions(X, baseline=X[j])``) and the
    displacements they sum to (``embedding = reducer.transform(X) - reducer.transform(X[[j]])``),
    ``explain_difference(C, embedding, i, j)`` splits the step from ``j`` to ``i`` over the
    features: ``C[j]`` is 0, so ``g = C[i] . u``, and features where the two samples are
    equal get exactly 0. With contributions relative to the mean (the default), ``g`` is
    the difference of the two samples' contributions projected on ``u``: the shares still
    sum to 1, but a feature equal in both samples may get a share when the map's local
    slopes differ between them. A group centroid as the reference works the same way:
    ``baseline=X[group].mean(axis=0)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``; ``contribution`` (``g_j``, in embedding units);
        ``share`` (``g_j / gap``); ``position_a`` and ``position_b``, the groups' mean
        contributions projected on ``u``; ``rank`` (1 = pushes A away from B the most).
        Sorted by rank. ``attrs`` holds ``gap``, ``direction`` (``u``, a list) and
        ``residual``.
    """
    C = check_contributions(contributions).astype(np.float64, copy=False)
    n, n_components, n_features = C.shape
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.shape != (n, n_components):
        raise ValueError(f"embedding: expected shape {(n, n_components)}, got {emb.shape}")
    scale = float(np.abs(emb).max()) or 1.0
    error = float(np.abs(C.sum(axis=2) - emb).max())
    if error > _SUM_RTOL * scale:
        raise ValueError(
            f"embedding: differs from the sum of the contributions by {error:.3g} "
            "(were both computed for the same samples with the same model?)"
        )
    a = _check_mask(mask_a, n, "mask_a")
    b = _check_mask(mask_b, n, "mask_b")
    names = resolve_feature_names(feature_names, _sample_shape(contributions))
    delta = emb[a].mean(axis=0) - emb[b].mean(axis=0)
    gap = float(np.linalg.norm(delta))
    if gap == 0.0:
        raise ValueError("mask_a, mask_b: the two groups have the same centroid")
    u = delta / gap
    position_a = np.einsum("ikj,k->j", C[a], u) / len(a)
    position_b = np.einsum("ikj,k->j", C[b], u) / len(b)
    moved = position_a - position_b
    frame = pd.DataFrame(
        {
            "feature": names,
            "contribution": moved,
            "share": moved / gap,
            "position_a": position_a,
            "position_b": position_b,
        }
    )
    frame["rank"] = frame["contribution"].rank(ascending=False, method="first").astype(int)
    frame = frame.sort_values("rank", ignore_index=True)
    frame.attrs.update(gap=gap, direction=u.tolist(), residual=float(1.0 - frame["share"].sum()))
    return frame


def top_features(
    contributions: Any, k: int = 3, feature_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each sample's ``k`` features with the longest contribution vectors.

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features)
        Float contributions, from :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`
        or :func:`glass_box_umap.paths.path_contributions`. Those of images,
        (n_samples, n_components, \\*input_shape), are read flattened in C order.
    k : int, default 3
        How many features to keep per sample, from 1 to n_features.
    feature_names : sequence of str, optional
        One name per feature (per pixel, in C order, for images), for example
        ``reducer.feature_names_in_``; ``x0, x1, ...`` (``x[c,h,w]``) when omitted.

    Returns
    -------
    pandas.DataFrame
        ``n_samples * k`` rows: ``sample`` (row index), ``rank`` (1 = largest),
        ``feature``, ``l2`` (length of the contribution vector) and
        ``contribution_component0 ...`` (signed, one per embedding component, numbered from
        0; the 1-based ``contribution_axis1 ...`` copies are deprecated).
    """
    C = check_contributions(contributions)
    n, n_components, n_features = C.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_features:
        raise ValueError(f"k: expected an integer in [1, {n_features}], got {k!r}")
    names = np.asarray(
        resolve_feature_names(feature_names, _sample_shape(contributions)), dtype=object
    )
    lengths = np.linalg.norm(C, axis=1)
    order = np.argsort(-lengths, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = order.ravel()
    signed = C[rows, :, cols]
    return pd.DataFrame(
        {
            "sample": rows,
            "rank": np.tile(np.arange(1, k + 1), n),
            "feature": names[cols],
            "l2": lengths[rows, cols],
            **_component_columns(signed.T, "contribution_component", "contribution_axis"),
        }
    )


def contributions_frame(
    contributions: Any,
    feature_names: Sequence[str] | None = None,
    samples: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Contributions as a tidy long table, one row per (sample, component, feature).

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features)
        Float contributions, from :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions`
        or :func:`glass_box_umap.paths.path_contributions`. Those of images,
        (n_samples, n_components, \\*input_shape), are read flattened in C order.
    feature_names : sequence of str, optional
        One name per feature (per pixel, in C order, for images), for example
        ``reducer.feature_names_in_``; ``x0, x1, ...`` (``x[c,h,w]``) when omitted.
    samples : sequence of length n_samples, optional
        Sample ids (for example a DataFrame's index); ``0 .. n - 1`` when omitted.

    Returns
    -------
    pandas.DataFrame
        ``n_samples * n_components * n_features`` rows with columns ``sample``,
        ``component`` (the embedding component, numbered from 0 as everywhere else;
        it counted from 1 before this release, which a ``FutureWarning`` recalls),
        ``feature`` (categorical) and ``contribution``. Grouping by
        ``(sample, component)`` and summing ``contribution`` gives the embedding back.
    """
    C = check_contributions(contributions)
    n, n_components, n_features = C.shape
    names = resolve_feature_names(feature_names, _sample_shape(contributions))
    if samples is None:
        ids = np.arange(n)
    else:
        ids = np.asarray(samples)
        if ids.shape != (n,):
            raise ValueError(f"samples: expected {n} sample ids, got shape {ids.shape}")
    warnings.warn(
        "contributions_frame: the 'component' column now counts from 0, like component= "
        "and get_feature_names_out (it counted from 1); this warning goes in the next release",
        FutureWarning,
        stacklevel=2,
    )
    return pd.DataFrame(
        {
            "sample": np.repeat(ids, n_components * n_features),
            "component": np.tile(np.repeat(np.arange(n_components), n_features), n),
            "feature": pd.Categorical.from_codes(
                np.tile(np.arange(n_features), n * n_components), categories=names
            ),
            "contribution": C.reshape(-1),
        }
    )


def to_shap(
    contributions: Any,
    X: Any,
    component: int = 0,
    feature_names: Sequence[str] | None = None,
    base_values: Any = None,
) -> Any:
    """One embedding component's contributions as a ``shap.Explanation``, for SHAP's plots.

    ``shap.plots.waterfall(e[i])``, ``beeswarm(e)``, ``bar(e)`` and ``heatmap(e)`` then
    draw our exact contributions. As for SHAP values, ``values[i].sum() + base_values[i]``
    is the explained output: here sample ``i``'s coordinate on the embedding component.

    Parameters
    ----------
    contributions : array of shape (n_samples, n_components, n_features)
        Or (n_samples, n_components, \\*input_shape), flattened in C order. From
        :meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions` (reference: the origin of the
        embedding, where the training mean lands) or from
        :func:`glass_box_umap.paths.path_contributions` (reference: its baseline).
    X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape)
        The samples explained, as given to the model: the feature values the plots show.
        A DataFrame's columns name the features unless ``feature_names`` is given.
    component : int, default 0
        The embedding component explained, numbered from 0.
    feature_names : sequence of str, optional
        One name per feature (per pixel, in C order, for images). When omitted: the
        columns of ``X`` if it is a DataFrame, else ``x0, x1, ...`` (``x[c,h,w]``).
    base_values : float or array of shape (n_samples,), optional
        Where the reference lands on the component. ``None`` is 0: the reference of
        ``compute_contributions``. For path contributions give the baseline's embedding,
        ``reducer.transform(baseline)[:, component]``.

    Returns
    -------
    shap.Explanation
        ``values`` (n_samples, n_features), ``base_values`` (n_samples,), ``data``
        (n_samples, n_features), ``feature_names``; float64.

    Raises
    ------
    ImportError
        shap is not installed: ``pip install glass_box_umap[shap]``.
    ValueError
        Naming ``contributions``, ``X``, ``component`` or ``base_values``.
    """
    try:
        import shap
    except ImportError as err:
        raise ImportError(
            "to_shap needs the optional dependency shap: pip install glass_box_umap[shap]"
        ) from err
    C = check_contributions(contributions)
    n, n_components, n_features = C.shape
    if (
        isinstance(component, bool)
        or not isinstance(component, (int, np.integer))
        or not 0 <= component < n_components
    ):
        raise ValueError(
            f"component: expected an integer in [0, {n_components - 1}], got {component!r}"
        )
    if feature_names is None and isinstance(getattr(X, "columns", None), pd.Index):
        feature_names = [str(c) for c in X.columns]
    data = np.asarray(X, dtype=np.float64)
    if data.shape[0] != n or data.size != n * n_features:
        raise ValueError(
            f"X: expected {n} samples of {n_features} features like the contributions, got "
            f"shape {data.shape}"
        )
    names = resolve_feature_names(feature_names, _sample_shape(contributions))
    base = np.zeros(n) if base_values is None else np.asarray(base_values, dtype=np.float64)
    if base.ndim == 0:
        base = np.full(n, float(base))
    if base.shape != (n,) or not np.isfinite(base).all():
        raise ValueError(
            f"base_values: expected a finite number or {n} of them, got shape {base.shape}"
        )
    return shap.Explanation(
        values=C[:, component].astype(np.float64),
        base_values=base,
        data=data.reshape(n, n_features),
        feature_names=names,
    )


__all__ = [
    "contributions_frame",
    "explain_difference",
    "explain_groups",
    "to_shap",
    "top_features",
]
