"""AnnData / scanpy integration: fit on an ``AnnData``, map a query onto it, store results
where scanpy looks.

Needs the ``io`` extra (``pip install glass_box_umap[io]``) for :mod:`anndata`; scanpy
itself is not required. ::

    from glass_box_umap import scanpy as gbu
    reducer = gbu.fit(adata, neighbors_key="neighbors", groupby="leiden", random_state=0)
    adata.obsm["X_glassbox_umap"]                 # (n_obs, n_components)
    adata.obsm["X_glassbox_umap_contributions"]   # (n_obs, n_components, n_vars)
    adata.uns["glassbox_umap"]["groups"]          # explain_groups table, as columns
    gbu.transform(adata_query, reducer)           # reference mapping, same keys

What ends up where (``fit`` and ``transform`` alike):

* ``obsm[key_added]``: the embedding (plot it with ``sc.pl.embedding(adata, basis=...)``).
* contributions, shape (n_obs, n_components, n_features), float32: in
  ``obsm[key_added + '_contributions']`` when they hold at most ``max_obsm_values``
  numbers; otherwise in a ``.npy`` file on disk (``contributions_path``, by default
  ``./<key_added>_contributions.npy`` for ``fit`` and
  ``./<key_added>_query_contributions.npy`` for ``transform``), written
  ``chunk_rows`` cells at a time, so that neither the ``.h5ad`` nor memory ever holds
  them all. Its absolute path is recorded in ``uns[uns_key]['contributions']``; read it
  with ``numpy.load(path, mmap_mode='r')``: rows follow ``adata.obs_names``, the last
  axis ``uns[uns_key]['feature_names']``.
* feature summaries: when the features are the variables (``use_rep=None`` or a
  ``layer``), ``varm[key_added + '_mean_abs']`` holds each gene's mean absolute
  contribution per embedding component, (n_vars, n_components), and
  ``var[key_added + '_l2_share']`` its mean share of the contribution length. For
  another representation (``X_pca``), these go in ``uns`` with the representation's
  column names.
* ``uns[uns_key]``: parameters, feature names, where the contributions are, which
  neighbour graph was embedded (``'graph'``, with ``neighbors_key``), and with
  ``groupby``, the :func:`~glass_box_umap.explain_groups` table as a dict of
  columns.

Sparse ``adata.X`` (or layer) is never densified whole: the estimator and the
contributions read it in slices of rows.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
import torch

from ._validation import is_backed_sparse
from .estimator import GlassBoxUMAP
from .explain import explain_groups, l2_share

#: Contributions with more numbers than this go to a ``.npy`` file instead of ``obsm``.
MAX_OBSM_VALUES = 50_000_000
#: Cells whose contributions are computed (and written) at a time.
CHUNK_ROWS = 4_096
#: Below this many variables, scanpy's ``pp.neighbors`` builds its graph on ``X``,
#: otherwise on ``X_pca`` (scanpy's ``settings.N_PCS``), unless told ``use_rep``.
_SCANPY_N_PCS = 50


# ---------------------------------------------------------------- inputs
@dataclass(frozen=True)
class _Representation:
    """What the encoder reads: the matrix, its feature names and where it lives."""

    matrix: Any
    names: list[str]
    #: Each feature's row in ``var`` (features that are genes), else None.
    var_index: np.ndarray | None
    label: str  # 'X', "layers['counts']" or "obsm['X_pca']", for messages
    use_rep: str  # as scanpy's use_rep would name it: 'X', an obsm key, or '' (a layer)


class _PickedColumns:
    """Columns of a backed matrix, picked chunk by chunk: ``m[rows]`` reads only ``rows``
    from the file (fancy column indexing of the whole matrix would read all of it)."""

    def __init__(self, matrix: Any, columns: np.ndarray) -> None:
        self.matrix, self.columns = matrix, columns
        self.shape = (matrix.shape[0], len(columns))

    def __getitem__(self, rows: slice) -> Any:
        return self.matrix[rows][:, self.columns]


def _in_memory(matrix: Any, chunk_rows: int) -> Any:
    """A backed AnnData's sparse matrix read into a CSR matrix, ``chunk_rows`` rows at a
    time (never densified); anything else as it is. Fitting needs every row at once."""
    if not is_backed_sparse(matrix):
        return matrix
    n_obs = matrix.shape[0]
    chunks = [
        scipy.sparse.csr_matrix(matrix[start : start + chunk_rows])
        for start in range(0, n_obs, chunk_rows)
    ]
    return scipy.sparse.vstack(chunks, format="csr")


def _check_adata(adata: Any, name: str) -> None:
    if not hasattr(adata, "obsm") or not hasattr(adata, "var_names"):
        raise TypeError(f"{name}: expected an AnnData, got {type(adata).__name__}")


def _representation(
    adata: Any, use_rep: str | None, layer: str | None, name: str = "adata"
) -> _Representation:
    """The matrix the encoder reads (sparse stays sparse), and its feature names."""
    if use_rep is not None and layer is not None:
        raise ValueError("use_rep, layer: give at most one of them")
    if use_rep is not None:
        if use_rep not in adata.obsm:
            raise ValueError(
                f"use_rep: {use_rep!r} is not in {name}.obsm (keys: {list(adata.obsm.keys())})"
            )
        X = adata.obsm[use_rep]
        X = X.to_numpy() if hasattr(X, "to_numpy") else X
        names = [f"{use_rep}_{j}" for j in range(np.shape(X)[1])]
        return _Representation(X, names, None, f"obsm[{use_rep!r}]", use_rep)
    names = [str(v) for v in adata.var_names]
    var_index = np.arange(len(names))
    if layer is not None:
        if layer not in adata.layers:
            raise ValueError(f"layer: {layer!r} is not in {name}.layers ({list(adata.layers)})")
        return _Representation(adata.layers[layer], names, var_index, f"layers[{layer!r}]", "")
    if adata.X is None:
        raise ValueError(f"{name}: .X is None; pass layer= or use_rep= to say what to read")
    return _Representation(adata.X, names, var_index, "X", "X")


def _groups(
    adata: Any, groupby: str | None, names: list[str], contributions: bool
) -> np.ndarray | None:
    """The ``groupby`` labels as strings, checked before any fit (None without it)."""
    if groupby is None:
        return None
    if groupby not in adata.obs:
        raise ValueError(f"groupby: {groupby!r} is not an obs column ({list(adata.obs.columns)})")
    if not contributions:
        raise ValueError("groupby: its groups are explained by contributions; contributions=False")
    duplicates = pd.Index(names)[pd.Index(names).duplicated()].unique().tolist()
    if duplicates:
        raise ValueError(
            f"groupby: the explain_groups table needs unique feature names, and these repeat: "
            f"{duplicates[:10]}; call adata.var_names_make_unique() first"
        )
    return adata.obs[groupby].astype(str).to_numpy()


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _contributions_file(
    path: str | Path | None, default: str, n_values: int, max_obsm_values: int
) -> Path | None:
    """Where contributions of ``n_values`` numbers go: None for ``obsm``, else a ``.npy``.

    Checked (and its folder made) before the expensive work, so that a long fit does not
    end on a path it cannot write.
    """
    if path is not None and Path(path).suffix != ".npy":
        raise ValueError(
            f"contributions_path: {str(path)!r} must end in .npy: large contributions are "
            "written there in chunks as a NumPy .npy file (read it with "
            "numpy.load(path, mmap_mode='r'))"
        )
    if n_values <= max_obsm_values:
        return None
    target = Path(path if path is not None else default).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# ---------------------------------------------------------------- scanpy's graph
def _neighbors_graph(adata: Any, neighbors_key: str) -> tuple[Any, dict[str, Any]]:
    """The connectivities ``sc.pp.neighbors(key_added=neighbors_key)`` stored, checked,
    and what ``uns`` records about them."""
    from .affinity import check_graph

    if not isinstance(neighbors_key, str):
        raise TypeError(f"neighbors_key: expected a str, got {type(neighbors_key).__name__}")
    if neighbors_key not in adata.uns:
        graphs = [
            k for k, v in adata.uns.items() if isinstance(v, Mapping) and "connectivities_key" in v
        ]
        raise ValueError(
            f"neighbors_key: {neighbors_key!r} is not in adata.uns; run "
            f"sc.pp.neighbors(adata, key_added={neighbors_key!r}) first (neighbour graphs "
            f"in adata.uns: {graphs})"
        )
    entry = adata.uns[neighbors_key]
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"neighbors_key: adata.uns[{neighbors_key!r}] is a {type(entry).__name__}, not "
            "the dict sc.pp.neighbors writes (with 'connectivities_key' and 'params')"
        )
    # scanpy writes 'connectivities_key'; its default graph is obsp['connectivities'].
    key = str(entry.get("connectivities_key", "connectivities"))
    if key not in adata.obsp:
        raise ValueError(
            f"neighbors_key: adata.uns[{neighbors_key!r}] names the connectivities "
            f"adata.obsp[{key!r}], which is missing (obsp keys: {list(adata.obsp.keys())})"
        )
    graph = check_graph(adata.obsp[key], adata.n_obs, name=f"neighbors_key: adata.obsp[{key!r}]")
    params = entry.get("params", {})
    params = params if isinstance(params, Mapping) else {}
    info: dict[str, Any] = {"neighbors_key": neighbors_key, "connectivities_key": key}
    if params.get("use_rep") is not None:
        info["use_rep"] = str(params["use_rep"])
    else:  # scanpy chose: X for few variables or n_pcs=0, X_pca otherwise
        few = adata.n_vars < _SCANPY_N_PCS or params.get("n_pcs") == 0
        info["use_rep"] = "X" if few else "X_pca"
        info["use_rep_chosen_by_scanpy"] = True
    for name in ("n_pcs", "n_neighbors"):
        if params.get(name) is not None:
            info[name] = int(params[name])
    for name in ("method", "metric"):
        if params.get(name) is not None:
            info[name] = str(params[name])
    return graph, info


def _tell_graph_representation(adata: Any, graph: dict[str, Any], rep: _Representation) -> None:
    """Warn when scanpy built the graph on another representation than the encoder reads.

    Legitimate (explaining a PCA graph in genes is the point of reading ``X``), but the
    user must know that the layout follows one space and the contributions another.
    """
    graph_rep = graph["use_rep"]
    n_pcs = graph.get("n_pcs")
    graph_label = "X" if graph_rep == "X" else f"obsm[{graph_rep!r}]"
    if graph_rep != "X" and n_pcs is not None:
        graph_label += f"[:, :{n_pcs}]"
    if graph.get("use_rep_chosen_by_scanpy"):
        graph_label += " (scanpy's choice: its params hold no use_rep)"
    same_columns = (
        graph_rep == "X"
        or n_pcs is None
        or graph_rep not in adata.obsm
        or n_pcs >= np.shape(adata.obsm[graph_rep])[1]
    )
    if graph_rep == rep.use_rep and same_columns:
        return
    hint = (
        f"pass use_rep={graph_rep!r}"
        if graph_rep != rep.use_rep
        else f"store the first {n_pcs} columns under their own obsm key and pass that"
    )
    warnings.warn(
        f"neighbors_key: scanpy built the graph adata.obsp[{graph['connectivities_key']!r}] on "
        f"{graph_label}, and the encoder reads {rep.label}: the layout follows that graph, "
        f"the contributions explain it in {rep.label}'s features. To fit the encoder on "
        f"the graph's representation, {hint}.",
        UserWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------- contributions
class _Summaries:
    """Means over cells of the contributions' summaries, accumulated chunk by chunk.

    The per-gene means of ``|C|`` and of :func:`~glass_box_umap.explain.l2_share`, and
    the :func:`~glass_box_umap.explain_groups` table: every number in it but
    ``n_samples`` and ``rank`` is a mean over a group's cells, so the tables of chunks,
    weighted by their ``n_samples``, add up to the table of all cells.
    """

    def __init__(self, n_components: int, names: list[str], groups: np.ndarray | None) -> None:
        self.names = names
        self.groups = groups
        self.n = 0
        self.abs_sum = np.zeros((n_components, len(names)))
        self.share_sum = np.zeros(len(names))
        self._columns: list[str] = []
        self._group_sums: pd.DataFrame | None = None

    def add(self, C: np.ndarray, rows: slice) -> None:
        """Take in the contributions ``C`` (n_rows, n_components, n_features) of ``rows``."""
        self.n += C.shape[0]
        self.abs_sum += np.abs(C).sum(axis=0, dtype=np.float64)
        self.share_sum += l2_share(C).sum(axis=0, dtype=np.float64)
        if self.groups is None:
            return
        table = explain_groups(C, self.groups[rows], feature_names=self.names)
        self._columns = self._columns or list(table.columns)
        table = table.set_index(["group", "feature"]).drop(columns="rank")
        n = table.pop("n_samples")
        sums = table.mul(n, axis=0).assign(n_samples=n)
        self._group_sums = (
            sums if self._group_sums is None else self._group_sums.add(sums, fill_value=0)
        )

    def mean_abs(self) -> np.ndarray:
        """Mean absolute contribution, (n_features, n_components)."""
        return (self.abs_sum / self.n).T

    def l2_share(self) -> np.ndarray:
        """Mean share of each feature in the contribution length, (n_features,)."""
        return self.share_sum / self.n

    def groups_table(self) -> pd.DataFrame:
        """What :func:`~glass_box_umap.explain_groups` returns for all the cells taken in."""
        n = self._group_sums["n_samples"]
        table = self._group_sums.drop(columns="n_samples").div(n, axis=0)
        table = table.assign(n_samples=n.round().astype(int))
        order = pd.MultiIndex.from_product(
            [np.unique(self.groups), self.names], names=["group", "feature"]
        )
        table = table.reindex(order).reset_index()
        # explain_groups ranks in feature order (ties: first feature first), then sorts.
        ranks = table.groupby("group", sort=False)["l2_share"].rank(ascending=False, method="first")
        table["rank"] = ranks.astype(int)
        table = table.sort_values(["group", "rank"], kind="stable")
        return table[self._columns].reset_index(drop=True)


def _row_chunks(matrix: Any, reducer: GlassBoxUMAP, chunk_rows: int) -> Iterator[tuple[slice, Any]]:
    """``(rows, X)`` for each slice of ``chunk_rows`` rows of ``matrix``, ``X`` validated
    for the model (float64 ndarray, or CSR): no copy of the whole matrix is made (sparse
    input in another format than CSR is converted to CSR once, still sparse)."""
    if scipy.sparse.issparse(matrix) and matrix.format != "csr":
        matrix = matrix.tocsr()
    n_obs = matrix.shape[0]
    for start in range(0, n_obs, chunk_rows):
        rows = slice(start, min(start + chunk_rows, n_obs))
        yield rows, reducer.map_.check_input(matrix[rows], owner="model")


def _write_npy_header(handle: Any, shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False}
    np.lib.format.write_array_header_1_0(handle, {**header, "shape": shape})


def _store_contributions(
    adata: Any,
    reducer: GlassBoxUMAP,
    rep: _Representation,
    info: dict[str, Any],
    *,
    key_added: str,
    groups: np.ndarray | None,
    path: Path | None,
    chunk_rows: int,
) -> None:
    """Contributions of ``rep.matrix``, ``chunk_rows`` cells at a time, into ``obsm``
    (``path`` None) or the ``.npy`` file ``path``; summaries into ``varm``/``var`` or
    ``info``.

    The file is written with plain writes after a ``.npy`` header, not through a memory
    map: pages written through a map stay in the process's resident set (a 1 GB map
    filled in chunks peaks at 1 GB RSS; plain writes at the chunk's size). It is written
    under a temporary name and renamed when complete.
    """
    n_obs, n_features = rep.matrix.shape
    n_components = adata.obsm[key_added].shape[1]
    summaries = _Summaries(n_components, rep.names, groups)
    pieces: list[np.ndarray] = []
    partial = None if path is None else path.with_name(path.name + ".partial")
    handle = None if partial is None else open(partial, "wb")  # noqa: SIM115 (closed below)
    try:
        if handle is not None:
            _write_npy_header(handle, (n_obs, n_components, n_features))
        for rows, X in _row_chunks(rep.matrix, reducer, chunk_rows):
            C = reducer.map_.contributions(X, torch.float32, None, chunk_rows)
            summaries.add(C, rows)
            if handle is None:
                pieces.append(C)
            else:
                np.ascontiguousarray(C, dtype="<f4").tofile(handle)
    finally:
        if handle is not None:
            handle.close()
    if path is None:
        adata.obsm[f"{key_added}_contributions"] = np.concatenate(pieces)
        info["contributions"] = f"obsm/{key_added}_contributions"
    else:
        os.replace(partial, path)
        info["contributions"] = str(path)

    if rep.var_index is not None:
        # NaN for genes that are not features of the model (a query's extra genes)
        mean_abs = np.full((adata.n_vars, n_components), np.nan)
        mean_abs[rep.var_index] = summaries.mean_abs()
        share = np.full(adata.n_vars, np.nan)
        share[rep.var_index] = summaries.l2_share()
        adata.varm[f"{key_added}_mean_abs"] = mean_abs
        adata.var[f"{key_added}_l2_share"] = share
    else:
        info["mean_abs"] = summaries.mean_abs()
        info["l2_share"] = summaries.l2_share()
    if groups is not None:
        table = summaries.groups_table()
        info["groups"] = {c: table[c].to_numpy() for c in table.columns}


def _scalar_params(reducer: GlassBoxUMAP) -> dict[str, Any]:
    """The parameters ``uns`` can hold (an ``.h5ad`` has no None)."""
    return {
        k: v for k, v in reducer.get_params(deep=False).items() if isinstance(v, (int, float, str))
    }


# ---------------------------------------------------------------- public functions
def fit(
    adata: Any,
    use_rep: str | None = None,
    layer: str | None = None,
    groupby: str | None = None,
    key_added: str = "X_glassbox_umap",
    uns_key: str = "glassbox_umap",
    contributions_path: str | Path | None = None,
    max_obsm_values: int = MAX_OBSM_VALUES,
    *,
    neighbors_key: str | None = None,
    contributions: bool = True,
    chunk_rows: int = CHUNK_ROWS,
    **params: Any,
) -> GlassBoxUMAP:
    """Fit :class:`~glass_box_umap.GlassBoxUMAP` on ``adata`` and write embedding, contributions
    and summaries.

    Parameters
    ----------
    adata : anndata.AnnData
        Modified in place (see the module docstring for what goes where). Backed
        (``read_h5ad(path, backed='r')``) works too: its sparse ``X`` is read into
        memory in chunks of ``chunk_rows`` rows, still sparse (a fit needs every row).
    use_rep : str, optional
        An ``obsm`` key for the encoder to read (for example ``'X_pca'``); contributions
        are then per column of that representation. By default the encoder reads ``X``.
    layer : str, optional
        A layer for the encoder to read instead of ``X``; contributions are per gene.
    groupby : str, optional
        An ``obs`` column; its groups are explained with :func:`~glass_box_umap.explain_groups`.
    key_added : str, default 'X_glassbox_umap'
        ``obsm`` key of the embedding (and prefix of the other keys).
    uns_key : str, default 'glassbox_umap'
        ``uns`` key of the dict that records the parameters, the feature names, where the
        contributions are, the graph embedded and the groups table (module docstring);
        an entry already there is replaced.
    contributions_path : str or Path, optional
        The ``.npy`` file for contributions too large for ``obsm``; default
        ``./<key_added>_contributions.npy``. Written in chunks of ``chunk_rows`` cells.
    max_obsm_values : int, default 50,000,000
        Largest contribution array (n_obs x n_components x n_features numbers) kept in
        ``obsm``.
    neighbors_key : str, optional
        Embed the graph scanpy built instead of building one: the key
        ``sc.pp.neighbors(key_added=...)`` wrote (``'neighbors'`` by default there).
        ``adata.obsp[adata.uns[neighbors_key]['connectivities_key']]`` is then the fuzzy
        graph trained on (the one Leiden clusters came from), and ``uns[uns_key]['graph']``
        records it and the representation scanpy built it on. The encoder still reads
        ``use_rep``/``layer``/``X``: a :class:`UserWarning` says so when scanpy's
        representation is another. ``n_neighbors``, ``metric`` and the other graph
        parameters then play no part.
    contributions : bool, default True
        False stores the embedding only (no contributions, summaries or groups table).
    chunk_rows : int, default 4,096
        Cells whose contributions are computed (and written) at a time.
    **params
        :class:`~glass_box_umap.GlassBoxUMAP` parameters. With thousands of genes,
        ``pca_components`` (say 50) keeps the encoder's inputs small: without it they
        are a dense float32 (n_obs, n_vars) array.

    Returns
    -------
    GlassBoxUMAP
        The fitted reducer; ``feature_names_in_`` holds the feature names (genes, or
        ``<use_rep>_0, ...``), so that :func:`transform` and saved models check a query
        by name.

    Raises
    ------
    TypeError, ValueError
        Naming the argument at fault (``use_rep``, ``layer``, ``groupby``,
        ``neighbors_key``, ``contributions_path`` ...), before any fit.
    """
    _check_adata(adata, "adata")
    rep = _representation(adata, use_rep, layer)
    groups = _groups(adata, groupby, rep.names, contributions)
    max_obsm_values = _check_positive_int(max_obsm_values, "max_obsm_values")
    chunk_rows = _check_positive_int(chunk_rows, "chunk_rows")
    graph, graph_info = None, None
    if neighbors_key is not None:
        graph, graph_info = _neighbors_graph(adata, neighbors_key)
        _tell_graph_representation(adata, graph_info, rep)
    reducer = GlassBoxUMAP(**params)
    n_components = reducer.n_components if isinstance(reducer.n_components, int) else 0
    path = _contributions_file(
        contributions_path,
        f"{key_added}_contributions.npy",
        adata.n_obs * n_components * len(rep.names) if contributions else 0,
        max_obsm_values,
    )

    rep = replace(rep, matrix=_in_memory(rep.matrix, chunk_rows))
    reducer.fit(rep.matrix, graph=graph)
    reducer.feature_names_in_ = np.asarray(rep.names, dtype=object)
    adata.obsm[key_added] = reducer.embedding_
    info: dict[str, Any] = {
        "method": "fit",
        "params": _scalar_params(reducer),
        "use_rep": use_rep or "",
        "layer": layer or "",
        "feature_names": rep.names,
        "contributions": "",
    }
    if graph_info is not None:
        info["graph"] = graph_info
    if contributions:
        _store_contributions(
            adata,
            reducer,
            rep,
            info,
            key_added=key_added,
            groups=groups,
            path=path,
            chunk_rows=chunk_rows,
        )
    adata.uns[uns_key] = info
    return reducer


def _fitted_model(model: Any) -> GlassBoxUMAP:
    if isinstance(model, (str, Path)):
        return GlassBoxUMAP.load(model)
    if not isinstance(model, GlassBoxUMAP):
        raise TypeError(
            f"model: expected a fitted GlassBoxUMAP or the path of a saved one, got "
            f"{type(model).__name__}"
        )
    if not hasattr(model, "map_"):
        raise ValueError("model: not fitted yet; fit it (gbu.fit(adata_reference, ...)) first")
    if len(model.input_shape_) != 1:
        raise ValueError(
            f"model: fitted on samples of shape {model.input_shape_}, not on a table of features"
        )
    return model


def _query_features(model: GlassBoxUMAP, rep: _Representation) -> tuple[_Representation, int]:
    """The query's columns in the model's order, and how many of the query's columns the
    model does not know (left out)."""
    where = "var_names" if rep.var_index is not None else f"the columns of {rep.label}"
    expected = getattr(model, "feature_names_in_", None)
    if expected is None:
        if len(rep.names) != model.n_features_in_:
            raise ValueError(
                f"adata_query: {rep.label} has {len(rep.names)} features, the model expects "
                f"{model.n_features_in_} (it has no feature names, so columns are taken in "
                "order)"
            )
        return rep, 0
    expected = [str(c) for c in expected]
    if rep.names == expected:
        return rep, 0
    index = pd.Index(rep.names)
    missing = [c for c in expected if c not in index]
    if missing:
        raise ValueError(
            f"adata_query: {len(missing)} of the model's {len(expected)} features are not "
            f"in {where} (first: {missing[:5]}); fit and map with the same genes (or the "
            "same use_rep)"
        )
    if not index.is_unique:
        raise ValueError(
            f"adata_query: {where} has duplicate names, so the model's features cannot be "
            "picked by name; call adata_query.var_names_make_unique() first"
        )
    columns = index.get_indexer(expected)
    backed = is_backed_sparse(rep.matrix)
    picked = replace(
        rep,
        matrix=_PickedColumns(rep.matrix, columns) if backed else rep.matrix[:, columns],
        names=expected,
        var_index=None if rep.var_index is None else columns,
    )
    return picked, len(rep.names) - len(expected)


def transform(
    adata_query: Any,
    model: GlassBoxUMAP | str | Path,
    use_rep: str | None = None,
    layer: str | None = None,
    key_added: str = "X_glassbox_umap",
    uns_key: str = "glassbox_umap",
    *,
    contributions: bool = True,
    groupby: str | None = None,
    contributions_path: str | Path | None = None,
    max_obsm_values: int = MAX_OBSM_VALUES,
    chunk_rows: int = CHUNK_ROWS,
) -> np.ndarray:
    """Map a query ``AnnData`` with a fitted model (reference mapping); store as :func:`fit`.

    The query's features are matched to the model's by name when the model has
    ``feature_names_in_`` (every model :func:`fit` returns, and saved models of them):
    query genes in another order are reordered, genes the model does not know are left
    out (their count is in ``uns[uns_key]['n_query_features_ignored']``), and a gene the
    model needs but the query lacks is an error. Without names, the column count must
    match. A ``use_rep`` is matched by its key (``X_pca_0, ...``); its coordinates must
    be the reference's (the reference PCA applied to the query, as ``sc.tl.ingest``
    does), which names cannot check.

    Parameters
    ----------
    adata_query : anndata.AnnData
        Modified in place. Backed (``read_h5ad(path, backed='r')``) works too: its
        sparse ``X`` is read ``chunk_rows`` rows at a time, never whole.
    model : GlassBoxUMAP or str or Path
        A fitted model (what :func:`fit` returns) or the path of one saved with ``save``.
    use_rep, layer : str, optional
        What the encoder reads, as at fit: an ``obsm`` key, a layer, or ``X`` (default).
    key_added : str, default 'X_glassbox_umap'
        ``obsm`` key of the embedding (the reference's, so that both plot in one frame).
    uns_key : str, default 'glassbox_umap'
        ``uns`` key of the query's record: the model's parameters, the feature names,
        ``n_query_features_ignored``, where the contributions are and the groups table;
        an entry already there is replaced.
    contributions : bool, default True
        False stores the embedding only.
    groupby : str, optional
        An ``obs`` column of the query whose groups are explained, as in :func:`fit`.
    contributions_path : str or Path, optional
        The ``.npy`` file for contributions too large for ``obsm``; default
        ``./<key_added>_query_contributions.npy`` (not the reference's file).
    max_obsm_values : int, default 50,000,000
        Largest contribution array (n_obs x n_components x n_features numbers) kept in
        ``obsm``; a larger one goes to ``contributions_path``.
    chunk_rows : int, default 4,096
        Cells embedded and explained at a time.

    Returns
    -------
    ndarray of shape (n_obs, n_components), float32
        The embedding, also in ``adata_query.obsm[key_added]``; equal to
        ``model.transform`` of the same matrix.
    """
    _check_adata(adata_query, "adata_query")
    model = _fitted_model(model)
    rep = _representation(adata_query, use_rep, layer, name="adata_query")
    rep, n_ignored = _query_features(model, rep)
    names = rep.names
    groups = _groups(adata_query, groupby, names, contributions)
    max_obsm_values = _check_positive_int(max_obsm_values, "max_obsm_values")
    chunk_rows = _check_positive_int(chunk_rows, "chunk_rows")
    n_components = int(model.embedding_.shape[1])
    path = _contributions_file(
        contributions_path,
        f"{key_added}_query_contributions.npy",
        adata_query.n_obs * n_components * len(names) if contributions else 0,
        max_obsm_values,
    )

    embedding = np.empty((adata_query.n_obs, n_components), dtype=np.float32)
    for rows, X in _row_chunks(rep.matrix, model, chunk_rows):
        embedding[rows] = model.map_.embed(X, chunk_rows)
    adata_query.obsm[key_added] = embedding
    info: dict[str, Any] = {
        "method": "transform",
        "params": _scalar_params(model),
        "use_rep": use_rep or "",
        "layer": layer or "",
        "feature_names": names,
        "n_query_features_ignored": n_ignored,
        "contributions": "",
    }
    if contributions:
        _store_contributions(
            adata_query,
            model,
            rep,
            info,
            key_added=key_added,
            groups=groups,
            path=path,
            chunk_rows=chunk_rows,
        )
    adata_query.uns[uns_key] = info
    return embedding


__all__ = ["CHUNK_ROWS", "MAX_OBSM_VALUES", "fit", "transform"]
