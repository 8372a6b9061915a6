"""Checks on parameters and arrays, run before any expensive work.

Every error names the argument and says what was wrong with it.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse
import torch

#: Integers beyond this magnitude are not exactly representable in float32.
_FLOAT32_EXACT_INT = 2**24
_INEXACT_INTEGERS = (
    "{name}: integer values beyond +/-2**24 would lose precision in float32; "
    "scale them or pass floats"
)


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}: must be {bound}, got {value!r}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    low_inclusive: bool = True,
    *,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` unless ``low_inclusive``).

    Finite unless ``allow_inf`` (then ``inf`` passes when ``high`` allows it); booleans are
    not numbers. Errors name ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    too_low = value < low if low_inclusive else value <= low
    if math.isnan(value) or (math.isinf(value) and not allow_inf) or too_low or value > high:
        lower = "[" if low_inclusive else "("
        finite = "" if allow_inf else "finite and "
        raise ValueError(f"{name}: must be {finite}in {lower}{low}, {high}], got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _check_sparse(X: Any, name: str) -> Any:
    """A scipy sparse matrix as CSR float64, validated like a dense array."""
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D sparse matrix, got {X.ndim} dimensions")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name}: empty sparse matrix of shape {X.shape}")
    if X.dtype == np.bool_ or X.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers (float or int), got dtype {X.dtype}")
    if X.dtype.kind in "iu" and X.nnz and np.abs(X.data).max() > _FLOAT32_EXACT_INT:
        raise ValueError(_INEXACT_INTEGERS.format(name=name))
    X = X.tocsr().astype(np.float64)
    if X.nnz and not np.isfinite(X.data).all():
        # The first in row-major order, as for dense input.
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        bad = ~np.isfinite(X.data)
        i, j = min(zip(rows[bad].tolist(), X.indices[bad].tolist(), strict=True))
        raise ValueError(f"{name}: contains NaN or infinity (first at row {i}, column {j})")
    if X.nnz and np.abs(X.data).max() > np.finfo(np.float32).max:
        raise ValueError(f"{name}: values beyond the float32 range (+/-3.4e38); rescale them")
    return X


def _dataframe_values(df: Any, name: str) -> np.ndarray:
    """The numbers of a DataFrame, with pandas' own dtypes read as numbers where they are.

    Numpy numeric columns and pandas' nullable ``Int*``/``UInt*``/``Float*`` columns are
    numbers; boolean columns (numpy ``bool`` or nullable ``boolean``, what
    ``pd.get_dummies`` gives) are 0 and 1. Categorical, string, object, datetime and
    other columns are refused by name, saying what to do; a missing value (``NaN``,
    ``pd.NA``, ``None``) is reported with its row and column.
    """
    import pandas as pd

    columns = list(df.columns)
    dtypes = list(df.dtypes)
    refused = [
        (str(col), str(dt))
        for col, dt in zip(columns, dtypes, strict=True)
        if not pd.api.types.is_numeric_dtype(dt)
        and not (isinstance(dt, np.dtype) and dt.kind == "c")  # named by check_array
    ]
    if refused:
        names = [col for col, _ in refused]
        kinds = ", ".join(f"{col}: {dt}" for col, dt in refused)
        raise TypeError(
            f"{name}: non-numeric columns {names} ({kinds}); encode them as numbers "
            "(one-hot with pd.get_dummies, or codes with .cat.codes; dates as a number "
            "of days) or drop them"
        )
    missing = df.isna().to_numpy()
    if missing.any():
        i, j = (int(v) for v in np.argwhere(missing)[0])
        raise ValueError(
            f"{name}: contains NaN or missing values (pd.NA) (first at row {i}, "
            f"column {j}: {columns[j]!r})"
        )
    # Extension columns become their numpy dtype (no missing value is left to stand in
    # for), booleans 0/1, so that integer columns keep their exactness check below.
    targets = {}
    for col, dt in zip(columns, dtypes, strict=True):
        numpy_dtype = np.dtype(
            dt if isinstance(dt, np.dtype) else getattr(dt, "numpy_dtype", None) or dt.subtype
        )
        if numpy_dtype == np.bool_:
            targets[col] = np.uint8
        elif not isinstance(dt, np.dtype):
            targets[col] = numpy_dtype
    if targets:
        df = df.astype(targets)
    return df.to_numpy()


def is_backed_sparse(X: Any) -> bool:
    """Whether ``X`` is a sparse matrix of a backed AnnData (``read_h5ad(backed='r')``):
    anndata's CSR/CSC dataset, which reads rows from the file when sliced."""
    return type(X).__module__.startswith("anndata") and hasattr(X, "to_memory")


def check_array(X: Any, name: str = "X", accept_sparse: bool = False) -> np.ndarray:
    """Validate a 2-D numeric array and return it as float64 numpy, no data lost.

    Accepts numpy arrays, torch tensors, pandas DataFrames and array-likes of real
    numbers (float32/64 or integers exactly representable in float32), and with
    ``accept_sparse`` scipy sparse matrices (returned as CSR float64, not densified).
    """
    if scipy.sparse.issparse(X):
        if not accept_sparse:
            raise TypeError(f"{name}: sparse input is not supported here; pass a dense array")
        return _check_sparse(X, name)
    if is_backed_sparse(X):
        raise TypeError(
            f"{name}: a backed AnnData matrix ({type(X).__name__}, read from disk on "
            "demand) is not an array; load it with X.to_memory() (or adata.to_memory()), "
            "or pass the AnnData to glass_box_umap.scanpy.fit / transform, which read it "
            "in chunks of rows"
        )
    if isinstance(X, torch.Tensor):
        if X.dtype == torch.bfloat16:
            # numpy has no bfloat16: .numpy() would raise without naming X.
            raise TypeError(
                f"{name}: bfloat16 keeps only ~3 significant digits, too few for neighbour "
                "distances; convert to float32"
            )
        X = X.detach().cpu().numpy()
    elif hasattr(X, "to_numpy") and hasattr(X, "dtypes") and hasattr(X, "columns"):
        # A DataFrame; a Series (no columns) is 1-D and refused below as such.
        X = _dataframe_values(X, name)
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name}: cannot be read as a numeric array ({err})") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported (dtype {arr.dtype})")
    if arr.dtype.kind == "O":
        # Object arrays of plain numbers (what pandas or lists can give) are numbers;
        # strings are not parsed, so "1.5" is an error rather than a silent conversion.
        if not all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in arr.flat):
            raise TypeError(f"{name}: object array holds values that are not real numbers")
        arr = arr.astype(np.float64)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers (float or int), got dtype {arr.dtype}")
    if arr.dtype == np.float16:
        raise TypeError(
            f"{name}: float16 keeps only ~3 significant digits, too few for neighbour "
            "distances; convert to float32"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array (n_samples, n_features), got shape {arr.shape}. "
            "Reshape your data: X.reshape(-1, 1) for one feature, X.reshape(1, -1) for one sample"
        )
    if arr.shape[0] == 0:
        raise ValueError(
            f"{name}: 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name}: 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.dtype.kind in "iu":
        if arr.size and np.abs(arr).max() > _FLOAT32_EXACT_INT:
            raise ValueError(_INEXACT_INTEGERS.format(name=name))
    elif not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name}: contains NaN or infinity (first at row {bad[0]}, column {bad[1]})"
        )
    elif np.abs(arr).max() > np.finfo(np.float32).max:
        raise ValueError(f"{name}: values beyond the float32 range (+/-3.4e38); rescale them")
    return arr.astype(np.float64, copy=False)


def feature_names(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame-like ``X`` when they are all strings, else None.

    Like scikit-learn, names are remembered only when every column name is a string;
    integer names (a DataFrame built from an array) carry no meaning, and a mix of
    strings and other names is refused, as scikit-learn refuses it: some columns would
    be checked by name and others not.

    Raises
    ------
    TypeError
        Naming ``X`` and the types of its column names, when some are strings and some
        are not.
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, (np.ndarray, torch.Tensor)):
        return None
    names = list(columns)
    strings = [isinstance(c, str) for c in names]
    if any(strings) and not all(strings):
        kinds = sorted({type(c).__name__ for c in names})
        raise TypeError(
            f"X: column names must all be strings to be remembered, or none of them; got "
            f"names of types {kinds}. Convert them with X.columns = X.columns.astype(str)"
        )
    if not names or not all(strings):
        return None
    return np.asarray(names, dtype=object)


def check_feature_names(expected: np.ndarray | None, X: Any, name: str = "X") -> None:
    """Raise when ``X`` has column names that differ from those seen at fit.

    Arrays without names pass: their columns are taken in the fitted order.
    """
    got = feature_names(X)
    if expected is None or got is None or list(got) == list(expected):
        return
    missing = [c for c in expected if c not in set(got)]
    unexpected = [c for c in got if c not in set(expected)]
    if missing or unexpected:
        raise ValueError(
            f"{name}: columns differ from those seen at fit; missing {missing}, "
            f"unexpected {unexpected}"
        )
    raise ValueError(f"{name}: columns are in another order than at fit; expected {list(expected)}")


def check_contributions(
    contributions: Any, n_samples: int | None = None, name: str = "contributions"
) -> np.ndarray:
    """A finite float array of shape (n_samples, n_components, n_features).

    Contributions of N-D samples, (n_samples, n_components, \\*input_shape) (images:
    (n, k, C, H, W)), are returned flattened to (n_samples, n_components, prod(input_shape))
    in C order, the order of :func:`default_feature_names`.
    """
    arr = np.asarray(contributions)
    if arr.dtype.kind != "f" or arr.ndim < 3:
        raise ValueError(
            f"{name}: expected a float array of shape (n_samples, n_components, n_features) "
            f"or (n_samples, n_components, *input_shape), got {arr.dtype} of shape {arr.shape}"
        )
    if arr.ndim > 3:
        arr = arr.reshape(*arr.shape[:2], -1)
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name}: has {arr.shape[0]} samples, expected {n_samples}")
    if arr.size == 0:
        raise ValueError(f"{name}: empty array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def default_feature_names(input_shape: int | tuple[int, ...]) -> list[str]:
    """``x0, x1, ...`` for feature vectors; ``x[c,h,w]`` per element of N-D samples (C order)."""
    shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    if len(shape) == 1:
        return [f"x{j}" for j in range(shape[0])]
    return ["x[" + ",".join(map(str, idx)) + "]" for idx in np.ndindex(*shape)]


def resolve_feature_names(
    feature_names: Any, n_features: int | tuple[int, ...], name: str = "feature_names"
) -> list[str]:
    """``feature_names`` as a list of strings, one per feature, or the default names.

    ``n_features`` may be the shape of one sample, (C, H, W) say: there are then
    ``prod(shape)`` features, named ``x[c,h,w]`` by default.
    """
    if feature_names is None:
        return default_feature_names(n_features)
    if not isinstance(n_features, (int, np.integer)):
        n_features = int(np.prod(n_features))
    if isinstance(feature_names, str):
        raise TypeError(f"{name}: expected a sequence of names, got a single string")
    names = [str(f) for f in feature_names]
    if len(names) != n_features:
        raise ValueError(f"{name}: has {len(names)} names for {n_features} features")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        duplicates = sorted({f for f in names if f in seen or seen.add(f)})
        raise ValueError(f"{name}: duplicate names {duplicates[:10]}")
    return names


def resolve_dtype(dtype: Any) -> torch.dtype:
    """'float32' / 'float64' (or the numpy / torch dtype) as a torch dtype."""
    mapping = {
        "float32": torch.float32,
        "float64": torch.float64,
        torch.float32: torch.float32,
        torch.float64: torch.float64,
    }
    key = dtype
    if not isinstance(dtype, (str, torch.dtype)):
        try:
            key = np.dtype(dtype).name
        except TypeError:
            key = None
    if key not in mapping:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    return mapping[key]


def check_samples(X: Any, name: str = "X") -> tuple[Any, tuple[int, ...]]:
    """``X`` validated as 2-D (n_samples, n_features), and the shape of one sample.

    N-D numpy arrays and tensors (images) are validated flattened; their per-sample
    shape is returned so that the encoder sees them as they were. Sparse input stays
    sparse (CSR float64).
    """
    input_shape = None
    if isinstance(X, (np.ndarray, torch.Tensor)) and X.ndim > 2:
        input_shape = tuple(int(d) for d in X.shape[1:])
        X = X.reshape(X.shape[0], int(np.prod(input_shape)))
    X = check_array(X, name, accept_sparse=True)
    return X, input_shape or (X.shape[1],)


#: Above this many values, counting distinct rows (a sort) is skipped as too costly.
DISTINCT_CHECK_MAX_VALUES = 10_000_000


def check_distinct(X: Any, n_neighbors: int, name: str = "X") -> None:
    """Reject data with too few distinct samples to have ``n_neighbors`` neighbours.

    Skipped above :data:`DISTINCT_CHECK_MAX_VALUES` dense values (rows x columns, not
    ``X.size``, which counts only the stored values of sparse input): it densifies ``X``.
    """
    if X.shape[0] * X.shape[1] > DISTINCT_CHECK_MAX_VALUES:
        return
    X = X.toarray() if scipy.sparse.issparse(X) else X
    if (X == X[0]).all():
        raise ValueError(f"{name}: all samples are identical; there is no structure to embed")
    n_distinct = len(np.unique(X, axis=0))
    if n_distinct < n_neighbors + 1:
        raise ValueError(
            f"{name}: has only {n_distinct} distinct samples, but n_neighbors={n_neighbors} "
            f"needs at least {n_neighbors + 1}"
        )


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: Default of a renamed keyword and of its new name, so that "not given" is told apart
#: from every value a caller could pass (None included).
MISSING: Any = _Missing()


def renamed_keyword(where: str, new: str, value: Any, old: str, old_value: Any) -> Any:
    """The value of a keyword that was renamed from ``old`` to ``new``, warning if ``old`` is used.

    ``value`` and ``old_value`` are :data:`MISSING` when not given. The old spelling keeps
    working for one release with a ``FutureWarning``; giving both is an error, and giving
    neither raises the ``TypeError`` a missing required argument would.
    """
    if old_value is MISSING:
        if value is MISSING:
            raise TypeError(f"{where}() missing required argument: {new!r}")
        return value
    if value is not MISSING:
        raise TypeError(f"{where}: got {new}= and its old name {old}=; pass {new}= only")
    warnings.warn(
        f"{where}: the keyword {old}= is renamed {new}=; {old}= will stop working in the next "
        "release",
        FutureWarning,
        stacklevel=3,
    )
    return old_value


def _as_tensor(values: Any, name: str) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach()
    try:
        return torch.as_tensor(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a numeric array, got {type(values).__name__}") from err


def check_samples_and_baseline(X: Any, baseline: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples and their reference point(s), as tensors, for attributions against a baseline.

    Parameters
    ----------
    X : array-like or Tensor of shape (n_samples, *input_shape)
    baseline : array-like or Tensor of shape input_shape, (1, *input_shape) or X's

    Returns
    -------
    X : Tensor of shape (n_samples, *input_shape)
        Float64 unless given as a tensor (then its own dtype), detached.
    baseline : Tensor of shape (1, *input_shape) or (n_samples, *input_shape)

    Raises
    ------
    ValueError
        Naming ``X`` (not numeric, empty, not a batch, NaN or infinity) or ``baseline``
        (not numeric, a shape that is neither input_shape nor X's, NaN or infinity).
    """
    x = _as_tensor(X, "X")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"X: expected a non-empty batch of shape (n_samples, *input_shape), got "
            f"{tuple(x.shape)}"
        )
    r = _as_tensor(baseline, "baseline")
    input_shape = tuple(x.shape[1:])
    if tuple(r.shape) == input_shape:
        r = r.unsqueeze(0)
    elif tuple(r.shape) not in ((1, *input_shape), tuple(x.shape)):
        raise ValueError(
            f"baseline: expected shape {input_shape} (one reference for all samples) or "
            f"{tuple(x.shape)} (one per sample), got {tuple(r.shape)}"
        )
    for name, values in (("X", x), ("baseline", r)):
        if not torch.isfinite(values).all():
            raise ValueError(f"{name}: contains NaN or infinity")
    return x, r
