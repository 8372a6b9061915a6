"""Bad input: a clear error naming the argument, raised before any expensive work.

Every case runs against an already fitted estimator: the failed fit must leave the
previous model intact, and neither the graph nor the trainer may have been reached.
"""

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch

from glass_box_umap import GlassBoxUMAP, fitting

from .conftest import FAST

rng = np.random.default_rng(0)
GOOD = rng.normal(size=(60, 4))
NAMED = pd.DataFrame(GOOD, columns=["a", "b", "c", "d"])
WITH_NA = NAMED.round().astype({"b": "Int64"})
WITH_NA.loc[8, "b"] = pd.NA

FIT_CASES = [
    # (id, X, y, params, error, message fragment naming the argument)
    ("nan", np.where(np.eye(60, 4) > 0, np.nan, GOOD), None, {}, ValueError, "X: contains NaN"),
    (
        "+inf",
        np.where(np.eye(60, 4) > 0, np.inf, GOOD),
        None,
        {},
        ValueError,
        "X: contains NaN or inf",
    ),
    ("-inf", np.where(np.eye(60, 4) > 0, -np.inf, GOOD), None, {}, ValueError, "X: contains"),
    ("empty rows", np.zeros((0, 4)), None, {}, ValueError, "X: 0 sample"),
    ("empty features", np.zeros((60, 0)), None, {}, ValueError, "X: 0 feature"),
    ("1-D", GOOD[:, 0], None, {}, ValueError, "X: expected a 2-D array"),
    ("3-D to an MLP", GOOD.reshape(60, 2, 2), None, {}, ValueError, "X: expected a 2-D"),
    ("strings", np.array([["a", "b"]] * 60), None, {}, TypeError, "X: expected real numbers"),
    (
        "str column",
        NAMED.assign(kind="x"),
        None,
        {},
        TypeError,
        "X: non-numeric columns \\['kind'\\]",
    ),
    (
        "Int64 with pd.NA",
        WITH_NA,
        None,
        {},
        ValueError,
        r"X: contains NaN or missing values \(pd.NA\) \(first at row 8, column 1: 'b'\)",
    ),
    (
        "categorical column",
        NAMED.assign(kind=pd.Categorical(["x", "y"] * 30)),
        None,
        {},
        TypeError,
        r"X: non-numeric columns \['kind'\] \(kind: category\); encode them .* or drop them",
    ),
    (
        "string column",
        NAMED.assign(kind=pd.array(["x", "y"] * 30, dtype="string")),
        None,
        {},
        TypeError,
        r"X: non-numeric columns \['kind'\] \(kind: string\); encode",
    ),
    (
        "datetime column",
        NAMED.assign(when=pd.date_range("2020-01-01", periods=60)),
        None,
        {},
        TypeError,
        r"X: non-numeric columns \['when'\] \(when: datetime64\[ns\]\); encode",
    ),
    ("object with str", GOOD.astype(object).tolist() + [[1, 2, 3, "x"]], None, {}, TypeError, "X:"),
    ("bool", GOOD > 0, None, {}, TypeError, "X: expected real numbers"),
    ("float16", GOOD.astype(np.float16), None, {}, TypeError, "X: float16"),
    ("complex", GOOD + 1j, None, {}, ValueError, "X: Complex data not supported"),
    (
        "huge ints",
        np.full((60, 4), 2**40, dtype=np.int64) + np.arange(60)[:, None],
        None,
        {},
        ValueError,
        "X: integer values beyond",
    ),
    ("beyond float32", GOOD * 1e39, None, {}, ValueError, "X: values beyond the float32 range"),
    (
        "overflow after centring",
        np.where(np.arange(60)[:, None] < 3, -3e38, 3e38) * (1 + 0.01 * GOOD),
        None,
        {},
        ValueError,
        "X: values so large that centring them overflows",
    ),
    ("identical rows", np.ones((60, 4)), None, {}, ValueError, "X: all samples are identical"),
    (
        "n_samples <= n_neighbors",
        GOOD[:15],
        None,
        {},
        ValueError,
        "X: has 15 samples, but n_neighbors=15",
    ),
    (
        "duplicate rows",
        np.repeat(GOOD[:5], 12, axis=0),
        None,
        {},
        ValueError,
        "X: has only 5 distinct samples",
    ),
    (
        "sparse with nan",
        scipy.sparse.csr_matrix(np.where(GOOD > 2, np.nan, GOOD)),
        None,
        {},
        ValueError,
        "X: contains NaN",
    ),
    (
        "torch with nan",
        torch.tensor(np.where(np.eye(60, 4) > 0, np.nan, GOOD)),
        None,
        {},
        ValueError,
        "X: contains NaN",
    ),
    ("ragged", [[1.0, 2.0], [3.0]] * 30, None, {}, TypeError, "X: cannot be read"),
    ("y length", GOOD, np.zeros(59), {}, ValueError, "y: expected shape \\(60,\\)"),
    ("y continuous", GOOD, rng.normal(size=60), {}, ValueError, "y: continuous targets"),
    ("y nan", GOOD, np.where(np.arange(60) == 3, np.nan, 1.0), {}, ValueError, "y: contains NaN"),
    ("pca > features", GOOD, None, {"pca_components": 5}, ValueError, "pca_components: 5 exceeds"),
    ("unknown metric", GOOD, None, {"metric": "nope"}, ValueError, "metric: unknown metric"),
    (
        "unknown encoder",
        GOOD,
        None,
        {"encoder_name": "transformer"},
        ValueError,
        "encoder_name: unknown encoder",
    ),
    ("negative", GOOD, None, {"min_dist": -1.0}, ValueError, "min_dist: must be"),
    ("zero", GOOD, None, {"epochs": 0}, ValueError, "epochs: must be >= 1"),
    ("huge n_neighbors", GOOD, None, {"n_neighbors": 10**6}, ValueError, "n_neighbors=1000000"),
    (
        "target_weight",
        GOOD,
        np.arange(60) % 2,
        {"target_weight": 1.5},
        ValueError,
        "target_weight: must be",
    ),
    ("bool lr", GOOD, None, {"lr": True}, TypeError, "lr: expected a real number"),
    ("negative noise", GOOD, None, {"input_noise": -0.1}, ValueError, "input_noise: must be"),
    ("nan noise", GOOD, None, {"input_noise": float("nan")}, ValueError, "input_noise: must"),
    ("text noise", GOOD, None, {"input_noise": "0.2"}, TypeError, "input_noise: expected"),
]


@pytest.fixture(scope="module")
def trained():
    return GlassBoxUMAP(random_state=0, **dict(FAST, epochs=2)).fit(NAMED)


@pytest.mark.parametrize(
    ("X", "y", "params", "error", "match"),
    [case[1:] for case in FIT_CASES],
    ids=[case[0] for case in FIT_CASES],
)
def test_bad_fit_input(trained, monkeypatch, X, y, params, error, match):
    def unreachable(*args, **kwargs):
        raise AssertionError("expensive work started before the input was checked")

    monkeypatch.setattr(fitting, "build_graph", unreachable)
    reducer = copy.deepcopy(trained)
    before = reducer.transform(NAMED)
    reducer.set_params(**params)
    with pytest.raises(error, match=match):
        reducer.fit(X, y)
    # the previous model is intact
    np.testing.assert_array_equal(reducer.transform(NAMED), before)
    assert reducer.embedding_ is not None and reducer.n_features_in_ == 4


TRANSFORM_CASES = [
    ("feature count", GOOD[:, :3], ValueError, "X has 3 features, but GlassBoxUMAP is expecting 4"),
    ("missing names", NAMED.rename(columns={"a": "z"}), ValueError, "missing \\['a'\\]"),
    ("reordered names", NAMED[["d", "c", "b", "a"]], ValueError, "X: columns are in another order"),
    ("nan", np.full((3, 4), np.nan), ValueError, "X: contains NaN"),
    ("1-D", GOOD[0], ValueError, "X: expected a 2-D array"),
    ("float16", GOOD.astype(np.float16), TypeError, "X: float16"),
]


@pytest.mark.parametrize(
    ("X", "error", "match"), [c[1:] for c in TRANSFORM_CASES], ids=[c[0] for c in TRANSFORM_CASES]
)
def test_bad_transform_input(trained, X, error, match):
    with pytest.raises(error, match=match):
        trained.transform(X)
    with pytest.raises(error, match=match):
        trained.compute_contributions(X)


def test_unfitted_and_bad_options(trained):
    with pytest.raises(ValueError, match="not fitted"):
        GlassBoxUMAP().transform(GOOD)
    with pytest.raises(ValueError, match="reduction: expected None or 'l2'"):
        trained.compute_contributions(NAMED, reduction="l1")
    with pytest.raises(ValueError, match="dtype: expected 'float32' or 'float64'"):
        trained.compute_contributions(NAMED, dtype="float16")


def test_pandas_nullable_columns_are_numbers():
    from glass_box_umap._validation import check_array

    ints = NAMED.round().astype({"a": "Int64", "b": "int64"})
    nullable = ints.astype({"b": "Int32", "c": "Float64"}).assign(d=NAMED["d"] > 0)
    plain = ints.astype({"a": "int64"}).assign(d=(NAMED["d"] > 0).astype(float))
    for flags in ("boolean", "bool"):
        got = check_array(nullable.astype({"d": flags}))
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, plain.to_numpy(dtype=np.float64))
    # All-integer frames stay integers, so that the float32 exactness check still runs.
    with pytest.raises(ValueError, match="X: integer values beyond"):
        check_array(pd.DataFrame({"a": pd.array([2**40, 1], dtype="Int64")}))


def test_table_is_large_enough():
    assert len(FIT_CASES) + len(TRANSFORM_CASES) >= 25


def _rewrite(src, dst, edit_meta=None, edit_tensors=None):
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        meta = json.loads(f.metadata()["glass_box_umap"])
    tensors = load_file(src)
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    save_file(tensors, dst, metadata={"glass_box_umap": json.dumps(meta)})
    return dst


TAMPERED = [
    ("bad parameter", lambda m: m["params"].update(n_neighbors=-3), None, "n_neighbors"),
    (
        "code as encoder",
        lambda m: m["params"].update(encoder_name="os.system"),
        None,
        "encoder_name: unknown encoder 'os.system'",
    ),
    ("unknown parameter", lambda m: m["params"].update(evil="rm -rf /"), None, "inconsistent"),
    ("feature count", lambda m: m.update(n_features_in=3), None, "inconsistent|mean of shape"),
    ("feature names", lambda m: m.update(feature_names_in=["a"]), None, "feature names"),
    (
        "weights",
        None,
        lambda t: t.pop(next(k for k in t if k.startswith("encoder."))),
        "inconsistent",
    ),
    ("metadata not JSON object", lambda m: m.clear(), None, "unknown format"),
]


@pytest.mark.parametrize(
    ("edit_meta", "edit_tensors", "match"), [c[1:] for c in TAMPERED], ids=[c[0] for c in TAMPERED]
)
def test_tampered_model_files_are_refused(trained, tmp_path, edit_meta, edit_tensors, match):
    good = tmp_path / "good.safetensors"
    trained.save(good)
    bad = _rewrite(good, tmp_path / "bad.safetensors", edit_meta, edit_tensors)
    with pytest.raises((ValueError, TypeError), match=match) as info:
        GlassBoxUMAP.load(bad)
    assert (
        "path" in str(info.value)
        or "encoder_name" in str(info.value)
        or "n_neighbors" in str(info.value)
    )


def test_save_is_atomic(trained, tmp_path, monkeypatch):
    from glass_box_umap import persistence

    path = tmp_path / "model.safetensors"
    trained.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        trained.save(path)
    assert path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp left


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_model_gets_the_umask_permissions(trained, tmp_path, umask):
    # Saving goes through a private temporary file; the model file must not stay 0600.
    import os
    import stat

    old = os.umask(umask)
    try:
        trained.save(tmp_path / "model.safetensors")
        np.save(tmp_path / "reference.npy", np.zeros(1))
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "model.safetensors").stat().st_mode)
    assert mode == 0o666 & ~umask
    assert mode == stat.S_IMODE((tmp_path / "reference.npy").stat().st_mode)


_REPLACER = """
import os, shutil, sys, time
sources, target, seconds = sys.argv[1:3], sys.argv[3], float(sys.argv[4])
end, i = time.monotonic() + seconds, 0
while time.monotonic() < end:
    # What save_model does: write a temporary file beside the target, then rename it.
    tmp = f"{target}.{i}.tmp"
    shutil.copyfile(sources[i % 2], tmp)
    os.replace(tmp, target)
    i += 1
print(i)
"""


def test_load_while_another_process_saves(trained, tmp_path):
    # Another process replacing the file (as save does, atomically) while this one loads
    # it: every load reads one whole file, the old or the new (issue 22, item 7). Mapping
    # the file in two steps once failed 14 times in 3,398 loads with a RuntimeError.
    import subprocess
    import sys
    import time

    small, large = tmp_path / "small.safetensors", tmp_path / "large.safetensors"
    trained.save(small)
    bigger = copy.deepcopy(trained)
    bigger.embedding_ = np.zeros((5_000, 2), dtype=np.float32)
    bigger.save(large)
    target = tmp_path / "model.safetensors"
    trained.save(target)
    saver = subprocess.Popen(
        [sys.executable, "-c", _REPLACER, str(small), str(large), str(target), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    loads, sizes = 0, set()
    try:
        end = time.monotonic() + 3
        while time.monotonic() < end and saver.poll() is None:
            sizes.add(GlassBoxUMAP.load(target).embedding_.shape[0])
            loads += 1
    finally:
        replaced = int(saver.communicate(timeout=30)[0])
    assert loads > 20 and replaced > 100
    assert sizes <= {len(trained.embedding_), 5_000}


def test_mixed_str_and_int_column_names_are_refused_as_scikit_learn_does(trained):
    # Accepted silently, dropping feature_names_in_ (issue 22, item 9).
    mixed = NAMED.set_axis(["a", 1, "c", "d"], axis=1)
    with pytest.raises(TypeError, match=r"X: column names must all be strings .* \['int', 'str'\]"):
        GlassBoxUMAP(**FAST).fit(mixed)
    with pytest.raises(TypeError, match="X: column names must all be strings"):
        trained.transform(mixed)
    # All integers (a frame built from an array) carry no names, as before.
    unnamed = NAMED.set_axis(range(NAMED.shape[1]), axis=1)
    np.testing.assert_array_equal(trained.transform(unnamed), trained.transform(NAMED.to_numpy()))


def test_save_refuses_read_only_targets_and_follows_symlinks(trained, tmp_path, monkeypatch):
    # save() replaced a read-only file and a symlink without a word, and in a read-only
    # folder named its hidden temporary file (issue 22, item 9).
    import os
    import tempfile

    locked = tmp_path / "locked.safetensors"
    locked.write_bytes(b"precious")
    locked.chmod(0o444)
    with pytest.raises(PermissionError, match=f"path: '{locked}' is read-only"):
        trained.save(locked)
    assert locked.read_bytes() == b"precious"

    real = tmp_path / "models" / "real.safetensors"
    real.parent.mkdir()
    trained.save(real)
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    before = os.stat(real).st_ino
    trained.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert os.stat(real).st_ino != before  # the file behind the link was rewritten
    np.testing.assert_array_equal(GlassBoxUMAP.load(link).embedding_, trained.embedding_)
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.safetensors"]

    with pytest.raises(IsADirectoryError, match="path: .* is a folder"):
        trained.save(real.parent)

    def denied(*args, dir=None, **kwargs):  # what a read-only folder does (root may write)
        raise PermissionError(13, "Permission denied", f"{dir}/.hidden.tmp")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    target = tmp_path / "ro" / "model.safetensors"
    with pytest.raises(PermissionError, match=f"path: cannot write '{target}': no permission") as e:
        trained.save(target)
    assert ".hidden.tmp" not in str(e.value)


def test_a_flipped_weight_byte_is_refused_and_old_files_still_load(trained, tmp_path):
    # No checksum: a flipped byte loaded silently (issue 22, item 9).
    import json

    from safetensors.torch import load_file, save_file

    good = tmp_path / "good.safetensors"
    trained.save(good)
    data = bytearray(good.read_bytes())
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    name = next(k for k in header if k.startswith("encoder."))
    start = 8 + size + header[name]["data_offsets"][0]
    data[start] ^= 0x01  # the lowest mantissa bit of a float32 weight: still finite
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"'{bad}': tensor '{name}' does not match its checksum"):
        GlassBoxUMAP.load(bad)
    # Files written before the checksum (no sha256 in the metadata) load as they did.
    meta = json.loads(header["__metadata__"]["glass_box_umap"])
    assert set(meta.pop("sha256")) == set(load_file(good))
    old = tmp_path / "old.safetensors"
    save_file(load_file(good), old, metadata={"glass_box_umap": json.dumps(meta)})
    np.testing.assert_array_equal(GlassBoxUMAP.load(old).transform(GOOD), trained.transform(GOOD))
