"""Reading data files for the command line: .csv, .tsv, .parquet, .npy, .h5ad.

Every reader returns a :class:`Table`: the numeric features as a DataFrame (named
columns, the file's sample ids as index) and, optionally, a label column set apart.
Problems are reported as :class:`DataError` with a message meant for the person at the
terminal (which file, which columns), raised before anything is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: File suffixes we read, and what they are read with.
FORMATS = {
    ".csv": "comma-separated text (pandas)",
    ".tsv": "tab-separated text (pandas)",
    ".parquet": "Apache Parquet (pandas + pyarrow)",
    ".npy": "NumPy array, 2-D, numeric",
    ".h5ad": "AnnData (anndata)",
}


class DataError(ValueError):
    """A data file that cannot be used, with a message that says why."""


@dataclass
class Table:
    """Features and optional labels read from one file.

    Attributes
    ----------
    features : DataFrame of shape (n_samples, n_features)
        Numeric columns only, with the file's sample ids as index.
    labels : Series of shape (n_samples,) or None
        The label column, when one was asked for.
    source : Path
    """

    features: pd.DataFrame
    labels: pd.Series | None
    source: Path


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _read_text(path: Path, sep: str, header: bool | None) -> pd.DataFrame:
    if header is False:
        frame = pd.read_csv(path, sep=sep, header=None)
        frame.columns = [f"x{j}" for j in range(frame.shape[1])]
        return frame
    frame = pd.read_csv(path, sep=sep)
    # np.savetxt writes no header: pandas would take the first sample as the names.
    if header is None and len(frame.columns) and all(_is_number(c) for c in frame.columns):
        raise DataError(
            f"{path}: the first row is all numbers ({', '.join(map(str, frame.columns[:3]))}, "
            "...): pass --no-header to read it as a sample, or --numeric-header if these "
            "numbers are the column names (wavelengths, say)"
        )
    return frame


def _read_frame(path: Path, header: bool | None = None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            return _read_text(path, "," if suffix == ".csv" else "\t", header)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            if array.ndim != 2:
                raise DataError(f"{path}: expected a 2-D array, got shape {array.shape}")
            return pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])
        if suffix == ".h5ad":
            return _read_h5ad(path)
    except DataError:
        raise
    except ImportError as err:
        raise DataError(
            f"{path}: reading {suffix} files needs {err.name}: pip install it"
        ) from None
    except Exception as err:  # noqa: BLE001 - any parser failure means "unreadable"
        raise DataError(f"{path}: cannot be read as {FORMATS[suffix]} ({err})") from None
    raise DataError(
        f"{path}: unknown format {suffix or '(no suffix)'!r}; readable: {', '.join(FORMATS)}"
    )


def _read_h5ad(path: Path) -> pd.DataFrame:
    import anndata
    import scipy.sparse

    adata = anndata.read_h5ad(path)
    X = adata.X
    X = X.toarray() if scipy.sparse.issparse(X) else np.asarray(X)
    frame = pd.DataFrame(X, index=adata.obs_names, columns=[str(v) for v in adata.var_names])
    # obs columns become candidates for --label-column; they are dropped from the features
    for column in adata.obs.columns:
        if column in frame.columns:
            raise DataError(f"{path}: obs column {column!r} has the name of a variable")
        frame[column] = adata.obs[column].to_numpy()
    frame.attrs["obs_columns"] = list(adata.obs.columns)
    return frame


def read_table(
    path: str | Path,
    label_column: str | None = None,
    drop_columns: tuple[str, ...] = (),
    header: bool | None = None,
    *,
    id_column: str | None = None,
    features: list[str] | None = None,
    hint: str = "pass --label-column for a label or --drop-columns to ignore them",
) -> Table:
    """Read a data file into numeric features and optional labels.

    Parameters
    ----------
    path : str or Path
        A .csv, .tsv, .parquet, .npy or .h5ad file. Text and Parquet files have one
        sample per row and a header; for .h5ad, ``X`` holds the features and ``obs``
        columns can be used as labels.
    label_column : str, optional
        Column (or ``obs`` column) to set apart as labels.
    drop_columns : tuple of str
        Columns to ignore (sample ids, free text).
    header : bool, optional
        For .csv and .tsv: ``None`` reads the first row as column names and refuses a first
        row made only of numbers (a header-less file would lose its first sample); ``True``
        takes it as names all the same; ``False`` reads it as data (columns ``x0, x1, ...``).
    id_column : str, optional
        Column of sample ids: the index of the features (and labels), not a feature.
        Its ids must be unique and not empty.
    features : list of str, optional
        The columns a fitted model reads (its ``feature_names_in_``): other columns are
        ignored whatever they hold. Missing ones are left to :func:`select_features`.
    hint : str
        What the error about non-numeric feature columns suggests.

    Returns
    -------
    Table

    Raises
    ------
    DataError
        Missing or unreadable file, unknown format, unknown label or dropped column,
        non-numeric feature columns (named), missing values, no rows or no features.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    frame = _read_frame(path, header)
    obs_columns = frame.attrs.get("obs_columns", [])
    named = (*drop_columns, *(c for c in (label_column, id_column) if c))
    unknown = [c for c in named if c not in frame]
    if unknown:
        raise DataError(
            f"{path}: no column named {unknown}; columns are {list(frame.columns)[:20]}"
        )
    if id_column:
        ids = frame[id_column]
        if ids.isna().any():
            raise DataError(f"{path}: --id-column {id_column!r} has empty cells")
        if ids.duplicated().any():
            raise DataError(
                f"{path}: --id-column {id_column!r} has duplicate ids "
                f"{list(ids[ids.duplicated()].unique()[:5])}"
            )
        frame = frame.set_index(id_column)
        frame.index.name = None
    labels = frame[label_column] if label_column else None
    drop = {*drop_columns, *obs_columns, *(c for c in (label_column, id_column) if c)}
    wanted = None if features is None else {str(c) for c in features}
    kept = [c for c in frame.columns if c not in drop and (wanted is None or str(c) in wanted)]
    features = frame[kept]
    non_numeric = [
        str(c)
        for c, dtype in features.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
    ]
    if non_numeric:
        raise DataError(f"{path}: non-numeric columns {non_numeric}; {hint}")
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise DataError(f"{path}: no data ({features.shape[0]} rows, {features.shape[1]} features)")
    missing = features.isna().any()
    if missing.any():
        raise DataError(f"{path}: missing values in columns {list(missing[missing].index)[:20]}")
    features.columns = [str(c) for c in features.columns]
    return Table(features=features, labels=labels, source=path)


def select_features(table: Table, feature_names: list[str] | None, n_features: int) -> pd.DataFrame:
    """The columns a fitted model expects, in its order; names the missing ones.

    Parameters
    ----------
    table : Table
    feature_names : list of str or None
        The model's ``feature_names_in_``; None when it was fitted on an unnamed array,
        in which case the file must have exactly ``n_features`` numeric columns.
    n_features : int
    """
    features = table.features
    if feature_names is None:
        if features.shape[1] != n_features:
            raise DataError(
                f"{table.source}: has {features.shape[1]} feature columns, the model expects "
                f"{n_features}"
            )
        return features
    missing = [c for c in feature_names if c not in features.columns]
    if missing:
        raise DataError(
            f"{table.source}: lacks {len(missing)} column(s) the model was fitted on: "
            f"{missing[:20]}"
        )
    return features[list(feature_names)]
