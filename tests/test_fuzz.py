"""Property-based inputs over the public path fit -> transform -> compute_contributions ->
save -> load -> transform (issue 20).

Either a TypeError/ValueError that names the argument, raised before the neighbour search,
or finite outputs, contributions that sum to the embedding, and a reloaded model that
transforms bit for bit. Any other exception, a NaN or a hang (``TIMEOUT_S``) fails.
Inputs: dense numpy arrays of every real dtype (and bool, object, float16, complex), C or
Fortran order, read-only, ``np.memmap`` and ``np.load(mmap_mode='r')``; pandas frames
with nullable, categorical, string, datetime and object columns and ``pd.NA``; scipy
sparse CSR/CSC/COO matrices and arrays with and without explicit zeros; torch tensors;
N-D images for the conv encoder. A second property: every spelling of the same numbers
(sparse, memory-mapped, read-only, Fortran, a DataFrame, a tensor) fits to the same bits.
"""

import re
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch

from glass_box_umap import GlassBoxUMAP, affinity

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

NUMPY_DTYPES = [
    "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "bool", "float16", "complex64", "object", "longdouble",
]  # fmt: skip
FRAME_DTYPES = ["float64", "Int64", "Float64", "boolean", "Int8", "UInt32", "Float32"]
#: Columns a DataFrame must refuse, by name (TypeError naming the column).
REFUSED_COLUMNS = ["category", "string", "object", "datetime"]
SPARSE_FORMATS = ["csr", "csc", "coo"]
#: How a dense array reaches fit: as it is, or re-spelled with the same numbers.
SPELLINGS = ["plain", "fortran", "readonly", "memmap", "npy_mmap"]
#: Seconds one example may take before it counts as a hang.
TIMEOUT_S = 120
#: The conv encoder kept small so that an example costs milliseconds.
CONV = dict(encoder_name="conv", encoder_kwargs={"channels": (2,), "hidden_size": 8})


def _values(draw, n: int, d: int) -> np.ndarray:
    """float64 data with mixed magnitudes, duplicated rows, constant columns, NaN/inf."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.normal(size=(n, d))
    # Magnitudes from 1e-30 to 1e30, per column when mixed.
    exponents = draw(st.lists(st.integers(-30, 30), min_size=1, max_size=d))
    X *= 10.0 ** np.resize(exponents, d)
    # Duplicates in a third of the examples, so that most of the others reach a fit.
    duplicated = draw(st.integers(0, max(0, n - 2))) if draw(st.integers(0, 2)) == 0 else 0
    if duplicated:
        X[:duplicated] = X[duplicated]
    if draw(st.booleans()):
        X[:, draw(st.integers(0, d - 1))] = 1.0
    if draw(st.integers(0, 5)) == 0:
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    return X


def _as_dtype(X: np.ndarray, dtype: str, draw) -> np.ndarray:
    if dtype == "bool":
        return X > 0
    np_dtype = np.dtype(dtype)
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        # Up to the dtype's range, past 2**24 (a named error) when it reaches there.
        bound = min(float(info.max), draw(st.sampled_from([2.0**20, 2.0**30])))
        X = np.clip(np.round(np.nan_to_num(X)), max(float(info.min), -bound), bound)
    if dtype == "object":
        X = X.astype(object)
        if draw(st.integers(0, 3)) == 0:
            X[0, 0] = "1.5"  # strings are not parsed
        return X
    with np.errstate(over="ignore", invalid="ignore"):
        return X.astype(np_dtype)


@st.composite
def dense_arrays(draw):
    n, d = draw(st.integers(2, 40)), draw(st.integers(1, 8))
    X = _as_dtype(_values(draw, n, d), draw(st.sampled_from(NUMPY_DTYPES)), draw)
    spelling = draw(st.sampled_from(SPELLINGS))
    if spelling in ("memmap", "npy_mmap") and X.dtype == object:
        spelling = "plain"
    return X, draw(st.integers(2, 6)), {}, spelling


@st.composite
def frames(draw):
    n, d = draw(st.integers(2, 40)), draw(st.integers(1, 6))
    X = _values(draw, n, d)
    columns = [f"f{j}" for j in range(d)] if draw(st.booleans()) else list(range(d))
    finite = np.isfinite(X).all()
    dtype = draw(st.sampled_from(FRAME_DTYPES))
    frame = pd.DataFrame(X, columns=columns)
    if finite:
        if dtype[0] in "IU":
            frame = pd.DataFrame(np.clip(np.round(X), 0 if dtype[0] == "U" else -100, 100))
            frame.columns = columns
        frame = (frame > 0) if dtype == "boolean" else frame
        frame = frame.astype(dtype)
        if dtype != "float64" and draw(st.integers(0, 4)) == 0:
            frame.iloc[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = pd.NA
    refused = None
    if draw(st.integers(0, 3)) == 0:
        j = draw(st.integers(0, d - 1))
        refused = columns[j]
        kind = draw(st.sampled_from(REFUSED_COLUMNS))
        labels = np.where(X[:, j] > 0, "a", "b")
        frame[refused] = {
            "category": lambda: pd.Categorical(labels),
            "string": lambda: pd.array(labels, dtype="string"),
            "object": lambda: labels.astype(object),
            "datetime": lambda: pd.date_range("2020-01-01", periods=n),
        }[kind]()
    return frame, draw(st.integers(2, 6)), {"refused": refused}, "plain"


@st.composite
def sparse_matrices(draw):
    n, d = draw(st.integers(2, 40)), draw(st.integers(1, 8))
    X = _values(draw, n, d)
    X[np.random.default_rng(n * d).random(X.shape) < draw(st.floats(0.0, 0.95))] = 0.0
    rows, cols = np.nonzero(X) if draw(st.booleans()) else np.nonzero(np.ones_like(X))
    # The second choice stores every zero explicitly; COO may also repeat entries.
    data = X[rows, cols]
    if draw(st.booleans()):
        half = np.r_[data / 2, data / 2]
        data, rows, cols = half, np.r_[rows, rows], np.r_[cols, cols]
    dtype = draw(st.sampled_from(["float64", "float32", "int64"]))
    if dtype == "int64":
        data = np.round(np.nan_to_num(np.clip(data, -(2.0**25), 2.0**25)))
    with np.errstate(over="ignore", invalid="ignore"):
        data = data.astype(dtype)
    kind = scipy.sparse.coo_array if draw(st.booleans()) else scipy.sparse.coo_matrix
    M = kind((data, (rows, cols)), shape=X.shape)
    fmt = draw(st.sampled_from(SPARSE_FORMATS))
    return M.asformat(fmt), draw(st.integers(2, 6)), {}, "plain"


@st.composite
def images(draw):
    n = draw(st.integers(2, 30))
    shape = draw(st.sampled_from([(1, 4, 4), (2, 3, 5), (3, 3), (1, 1, 1), (2, 2, 2)]))
    X = _values(draw, n, int(np.prod(shape))).reshape(n, *shape)
    X = _as_dtype(X, draw(st.sampled_from(["float32", "float64", "uint8"])), draw)
    kwargs = dict(CONV) if draw(st.integers(0, 4)) else {}  # the MLP refuses images
    return X, draw(st.integers(2, 6)), kwargs, draw(st.sampled_from(SPELLINGS))


def inputs():
    return st.one_of(dense_arrays(), frames(), sparse_matrices(), images())


@contextmanager
def _spelled(X, spelling: str):
    """``X`` as ``spelling`` says: the same numbers, another container."""
    with tempfile.TemporaryDirectory() as tmp:
        if spelling == "fortran":
            X = np.asfortranarray(X)
        elif spelling == "readonly":
            X = X.copy()
            X.setflags(write=False)
        elif spelling == "memmap":
            out = np.memmap(Path(tmp) / "X.dat", dtype=X.dtype, mode="w+", shape=X.shape)
            out[:] = X
            out.flush()
            del out
            X = np.memmap(Path(tmp) / "X.dat", dtype=X.dtype, mode="r", shape=X.shape)
        elif spelling == "npy_mmap":
            np.save(Path(tmp) / "X.npy", X)
            X = np.load(Path(tmp) / "X.npy", mmap_mode="r")
        yield X


@contextmanager
def _time_limit(seconds: int):
    def hang(signum, frame):
        raise TimeoutError(f"one example took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _names_argument(err: Exception) -> bool:
    text = str(err)
    return text.startswith(("X", "n_neighbors", "y", "encoder_name")) or "n_neighbors" in text


def _fit(X, n_neighbors: int, kwargs: dict) -> tuple[GlassBoxUMAP | None, Exception | None]:
    """A fitted model, or the TypeError/ValueError fit raised before the neighbour search."""
    reducer = GlassBoxUMAP(
        n_neighbors=n_neighbors, epochs=1, batch_size=256, num_batches=1, quiet=True,
        random_state=0, **kwargs,
    )  # fmt: skip
    search = mock.patch.object(affinity, "nearest_neighbors", wraps=affinity.nearest_neighbors)
    with search as searched:
        try:
            reducer.fit(X)
        except (TypeError, ValueError) as err:
            assert _names_argument(err), f"{type(err).__name__} does not name the argument: {err}"
            assert not searched.called, f"raised after the neighbour search: {err}"
            return None, err
    return reducer, None


def _check(X, n_neighbors, kwargs=None, spelling="plain"):
    kwargs = dict(kwargs or {})
    refused = kwargs.pop("refused", None)
    with _time_limit(TIMEOUT_S), _spelled(X, spelling) as X:
        reducer, err = _fit(X, n_neighbors, kwargs)
        container = type(X).__name__ if spelling == "plain" else spelling
        if hypothesis.control.currently_in_test_context():
            hypothesis.event(f"{container}: {type(err).__name__ if err else 'fitted'}")
        if refused is not None:
            assert isinstance(err, TypeError) and repr(str(refused)) in str(err), err
        if err is not None:
            return
        emb = reducer.transform(X)
        assert np.isfinite(emb).all() and np.isfinite(reducer.embedding_).all()
        contributions = reducer.compute_contributions(X)
        assert contributions.shape[:2] == emb.shape
        assert np.isfinite(contributions).all()
        total = contributions.reshape(*contributions.shape[:2], -1).sum(-1)
        scale = max(float(np.abs(emb).max()), 1e-30)
        assert np.abs(total - emb).max() <= 1e-5 * scale
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.safetensors"
            reducer.save(path)
            again = GlassBoxUMAP.load(path)
        np.testing.assert_array_equal(again.transform(X), emb)


# ---------------------------------------------------------------- spellings agree
@st.composite
def spellings(draw):
    """float64 numbers and another container holding exactly them."""
    n, d = draw(st.integers(5, 30)), draw(st.integers(1, 6))
    X = _values(draw, n, d)
    X[np.random.default_rng(n + d).random(X.shape) < 0.5] = 0.0
    kind = draw(st.sampled_from([*SPELLINGS, *SPARSE_FORMATS, "explicit_zeros", "frame", "tensor"]))
    return X, kind, draw(st.integers(2, 5))


def _respell(X: np.ndarray, kind: str, stack):
    if kind in SPARSE_FORMATS:
        return scipy.sparse.csr_matrix(X).asformat(kind)
    if kind == "explicit_zeros":
        rows, cols = np.nonzero(np.ones_like(X))
        return scipy.sparse.csr_array((X[rows, cols], (rows, cols)), shape=X.shape)
    if kind == "frame":
        return pd.DataFrame(X).astype("Float64")
    if kind == "tensor":
        return torch.from_numpy(X.copy())
    return stack.enter_context(_spelled(X, kind))


def _outcome(X, n_neighbors):
    reducer, err = _fit(X, n_neighbors, {})
    if err is not None:
        # A DataFrame words a missing value its own way (pd.NA, the column's name), at
        # the same place.
        return type(err), re.findall(r"row \d+, column \d+", str(err)) or str(err)
    return reducer.transform(X).tobytes(), reducer.compute_contributions(X).tobytes()


def _check_spelling(X, kind, n_neighbors):
    from contextlib import ExitStack

    with _time_limit(TIMEOUT_S), ExitStack() as stack:
        assert _outcome(_respell(X, kind, stack), n_neighbors) == _outcome(X, n_neighbors)


# ---------------------------------------------------------------- regression cases
def test_fuzz_found_huge_magnitudes_train():
    # Found by the fuzzer: 1e22 data diverged in training before the global input scale.
    X = np.random.default_rng(0).normal(size=(25, 4)) * 1e22
    _check(X, 4)


@pytest.mark.parametrize("scale", [1e-40, 1e-300, 5e-324])
def test_fuzz_found_subnormal_data_is_named_before_the_search(scale):
    # Found by the fuzzer: data below float32's normal range became 0 in the encoder
    # inputs, and fit returned an embedding of exact zeros without a word.
    X = np.random.default_rng(0).normal(size=(25, 4)) * scale
    for given in (X, scipy.sparse.csr_matrix(X)):
        reducer, err = _fit(given, 4, {})
        assert isinstance(err, ValueError) and "X: values so small that float32" in str(err)
    _check(X * 1e10 if scale > 1e-300 else np.random.default_rng(0).normal(size=(25, 4)), 4)


def test_fuzz_found_bfloat16_tensors_and_series_are_named():
    # Found by the fuzzer: torch's bfloat16 raised numpy's "Got unsupported ScalarType"
    # and a pandas Series an AttributeError, neither naming X.
    X = np.random.default_rng(0).normal(size=(25, 4))
    _, err = _fit(torch.from_numpy(X).to(torch.bfloat16), 4, {})
    assert isinstance(err, TypeError) and str(err).startswith("X: bfloat16")
    _, err = _fit(pd.Series(X[:, 0]), 4, {})
    assert isinstance(err, ValueError) and str(err).startswith("X: expected a 2-D array")


def test_fuzz_found_sparse_nan_is_located_as_dense_nan():
    # Found by the spellings property: sparse input said where no NaN was.
    X = np.zeros((6, 3))
    X[4, 1], X[2, 2], X[4, 0] = np.nan, np.inf, 1.0
    for given in (X, scipy.sparse.csc_matrix(X), scipy.sparse.coo_array(X)):
        _, err = _fit(given, 2, {})
        assert str(err) == "X: contains NaN or infinity (first at row 2, column 2)"


def test_fuzz_found_sparse_integers_beyond_float32_are_named_as_dense_ones():
    # Found by the fuzzer: dense integers beyond 2**24 were refused, sparse ones rounded
    # to float32 without a word.
    X = np.round(np.random.default_rng(0).normal(size=(25, 4)) * 2**26).astype(np.int64)
    for given in (X, scipy.sparse.csr_matrix(X)):
        _, err = _fit(given, 4, {})
        assert isinstance(err, ValueError) and "beyond +/-2**24" in str(err)


@pytest.mark.parametrize(
    "case",
    [
        (scipy.sparse.csr_matrix, "csr"),
        (scipy.sparse.csc_array, "csc"),
        (scipy.sparse.coo_matrix, "coo"),
    ],
)
def test_sparse_with_explicit_zeros_fits_like_dense(case):
    kind, fmt = case
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 6)) * (rng.random((30, 6)) < 0.4)
    rows, cols = np.nonzero(np.ones_like(X))
    M = kind((X[rows, cols], (rows, cols)), shape=X.shape).asformat(fmt)
    assert (M.tocoo().data == 0).sum() > 0 and M.format == fmt
    assert _outcome(M, 4) == _outcome(X, 4)
    _check(M, 4)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_images_for_the_conv_encoder_in_every_spelling(spelling):
    X = np.random.default_rng(0).normal(size=(30, 1, 5, 5)).astype(np.float32)
    _check(X, 4, CONV, spelling)
    with _spelled(X, spelling) as given:
        reducer, _ = _fit(given, 4, CONV)
        assert reducer.input_shape_ == (1, 5, 5)
        assert reducer.compute_contributions(given).shape == (30, 2, 1, 5, 5)


@pytest.mark.parametrize("kind", REFUSED_COLUMNS)
def test_non_numeric_frame_columns_are_named(kind):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20, 3)), columns=["a", "b", "c"])
    labels = np.where(frame["b"] > 0, "up", "down")
    frame["b"] = {
        "category": pd.Categorical(labels),
        "string": pd.array(labels, dtype="string"),
        "object": labels.astype(object),
        "datetime": pd.date_range("2020-01-01", periods=20),
    }[kind]
    _, err = _fit(frame, 4, {})
    assert isinstance(err, TypeError) and "non-numeric columns ['b']" in str(err)


# ---------------------------------------------------------------- the fuzzer
@hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
@hypothesis.given(inputs())
def test_fuzz_public_path(case):
    _check(*case)


@hypothesis.settings(max_examples=15, deadline=None, derandomize=True)
@hypothesis.given(spellings())
def test_fuzz_spellings_of_the_same_numbers_fit_the_same(case):
    _check_spelling(*case)


#: Examples of the long profile (``pytest -m slow tests/test_fuzz.py``); with a quarter
#: as many of the spellings property, about 7 minutes on 2 shared cores.
LONG_EXAMPLES = 4000


@pytest.mark.slow
@hypothesis.settings(max_examples=LONG_EXAMPLES, deadline=None)
@hypothesis.given(inputs())
def test_fuzz_public_path_long(case):
    _check(*case)


@pytest.mark.slow
@hypothesis.settings(max_examples=LONG_EXAMPLES // 4, deadline=None)
@hypothesis.given(spellings())
def test_fuzz_spellings_of_the_same_numbers_fit_the_same_long(case):
    _check_spelling(*case)
