"""The command line, end to end through subprocesses, and the file readers it uses."""

import subprocess
import sys

import anndata
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_wine

from glass_box_umap import GlassBoxUMAP
from glass_box_umap.io import DataError, read_table

from .conftest import cpu_env


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "glass_box_umap.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cpu_env(),
    )


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    data = load_wine(as_frame=True)
    frame = data.data.copy()
    frame.insert(0, "wine_id", [f"w{i}" for i in range(len(frame))])
    frame["cultivar"] = [f"c{t}" for t in data.target]
    path = tmp_path_factory.mktemp("data") / "wine.csv"
    frame.to_csv(path, index=False)
    return path, frame


@pytest.fixture(scope="module")
def fitted_dir(wine_csv, tmp_path_factory):
    path, _ = wine_csv
    out = tmp_path_factory.mktemp("fit")
    result = run_cli(
        "fit",
        path,
        "--out",
        out,
        "--label-column",
        "cultivar",
        "--drop-columns",
        "wine_id",
        "--epochs",
        "4",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    return out, result


def test_fit_writes_all_outputs(fitted_dir, wine_csv):
    out, result = fitted_dir
    _, frame = wine_csv
    features = [c for c in frame.columns if c not in ("wine_id", "cultivar")]
    for name in ["embedding.csv", "contributions.npz", "model.safetensors", "embedding.png"]:
        assert (out / name).is_file(), name
        assert str(out / name) in result.stdout
    assert "178 samples x 13 features" in result.stdout
    assert "time: read" in result.stdout and "fit" in result.stdout
    emb = pd.read_csv(out / "embedding.csv")
    assert list(emb.columns) == ["sample", "glassboxumap0", "glassboxumap1", "label"]
    assert list(emb["label"]) == list(frame["cultivar"])
    with np.load(out / "contributions.npz") as npz:
        C = npz["contributions"]
        assert C.shape == (178, 2, 13) and C.dtype == np.float32
        assert list(npz["feature_names"]) == features
    coords = emb[["glassboxumap0", "glassboxumap1"]].to_numpy()
    np.testing.assert_allclose(C.sum(-1), coords, atol=1e-5 * np.abs(coords).max())
    model = GlassBoxUMAP.load(out / "model.safetensors")
    assert list(model.feature_names_in_) == features
    assert model.epochs == 4


def test_transform_and_explain(fitted_dir, wine_csv, tmp_path):
    out, _ = fitted_dir
    path, frame = wine_csv
    # columns in another order, plus extra ones: selected by name
    shuffled = frame[list(frame.columns[::-1])]
    shuffled_path = tmp_path / "shuffled.tsv"
    shuffled.to_csv(shuffled_path, sep="\t", index=False)
    result = run_cli(
        "transform",
        out / "model.safetensors",
        shuffled_path,
        "--out",
        tmp_path / "e.csv",
        "--drop-columns",
        "wine_id,cultivar",
    )
    assert result.returncode == 0, result.stderr
    again = pd.read_csv(tmp_path / "e.csv")
    fitted = pd.read_csv(out / "embedding.csv")
    np.testing.assert_allclose(
        again[["glassboxumap0", "glassboxumap1"]],
        fitted[["glassboxumap0", "glassboxumap1"]],
        atol=1e-6,
    )

    result = run_cli(
        "explain",
        out / "model.safetensors",
        path,
        "--groups",
        "cultivar",
        "--out",
        tmp_path / "ex",
        "--drop-columns",
        "wine_id",
        "--top",
        "4",
    )
    assert result.returncode == 0, result.stderr
    groups = pd.read_csv(tmp_path / "ex" / "groups.csv")
    assert set(groups["group"]) == {"c0", "c1", "c2"}
    assert len(groups) == 3 * 13
    assert (tmp_path / "ex" / "top_features.png").is_file()
    for g in ("c0", "c1", "c2"):
        top = groups[(groups["group"] == g) & (groups["rank"] == 1)]["feature"].item()
        assert f"  {g}: {top}" in result.stdout


def test_clear_errors_end_to_end(fitted_dir, wine_csv, tmp_path):
    out, _ = fitted_dir
    _, frame = wine_csv
    result = run_cli("fit", tmp_path / "nope.csv", "--out", tmp_path / "o")
    assert result.returncode == 2 and "nope.csv: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    short = tmp_path / "short.csv"
    frame.drop(columns=["alcohol", "proline"]).to_csv(short, index=False)
    result = run_cli(
        "transform", out / "model.safetensors", short, "--drop-columns", "wine_id,cultivar"
    )
    assert result.returncode == 2
    assert "lacks 2 column(s) the model was fitted on: ['alcohol', 'proline']" in result.stderr


def test_clear_errors(wine_csv, tmp_path, capsys):
    from glass_box_umap.cli import main

    path, _ = wine_csv

    def error(*args):
        assert main([str(a) for a in args]) == 2
        return capsys.readouterr().err

    out = tmp_path / "o"
    assert "non-numeric columns ['wine_id']" in error(
        "fit", path, "--out", out, "--label-column", "cultivar"
    )
    garbage = tmp_path / "bad.parquet"
    garbage.write_bytes(b"not parquet at all")
    assert "cannot be read as Apache Parquet" in error("fit", garbage, "--out", out)
    (tmp_path / "bad.xlsx").write_bytes(b"x")
    assert "unknown format '.xlsx'" in error("fit", tmp_path / "bad.xlsx", "--out", out)
    assert "n_neighbors: must be >= 2" in error("fit", path, "--out", out, "--n-neighbors", "1")
    assert "--supervised: needs --label-column" in error("fit", path, "--out", out, "--supervised")
    assert "--n-blocks: only for --encoder residual" in error(
        "fit", path, "--out", out, "--n-blocks", "2"
    )
    assert "target_weight: must be" in error(
        "fit", path, "--out", out, "--supervised", "--label-column", "cultivar",
        "--target-weight", "2",
    )  # fmt: skip
    assert "input_noise: must be" in error("fit", path, "--out", out, "--input-noise", "-1")
    assert not out.exists()  # nothing was written for a failed command


def test_supervised_fit_with_encoder_and_search_options(wine_csv, tmp_path, capsys):
    from glass_box_umap.cli import main

    _, frame = wine_csv
    partly = frame.copy()
    partly.loc[::4, "cultivar"] = None  # empty cells: unlabelled samples
    path = tmp_path / "partly.csv"
    partly.to_csv(path, index=False)
    out = tmp_path / "sup"
    args = ["fit", path, "--out", out, "--label-column", "cultivar", "--drop-columns", "wine_id"]
    args += ["--supervised", "--target-weight", "0.8", "--encoder", "residual"]
    args += ["--hidden-size", "32", "--n-blocks", "1", "--knn-method", "exact"]
    args += ["--input-noise", "0.3"]
    args += ["--accelerator", "cpu", "--epochs", "2", "--no-explorer", "--quiet"]
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert "supervised by 'cultivar': 3 classes, 45 unlabelled samples, target_weight 0.8" in stdout
    model = GlassBoxUMAP.load(out / "model.safetensors")
    assert model.encoder_name == "residual"
    assert model.encoder_kwargs == {"hidden_size": 32, "n_blocks": 1}
    assert (model.knn_method, model.target_weight) == ("exact", 0.8)
    assert model.input_noise == 0.3
    assert model.trainer_kwargs == {"accelerator": "cpu"}


def test_precomputed_neighbours_metric_and_graph_knobs_from_the_command_line(
    wine_csv, tmp_path, capsys
):
    from glass_box_umap.cli import main
    from glass_box_umap.model import input_scale
    from glass_box_umap.nearest_neighbors import exact_knn

    path, frame = wine_csv
    X = frame.drop(columns=["wine_id", "cultivar"]).to_numpy(dtype=np.float64)
    # the neighbours the fit's own search finds: on the centred inputs over their scale
    centred = torch.from_numpy((X - X.mean(0)).astype(np.float32))
    indices, distances = exact_knn((centred / np.float32(input_scale(centred))).numpy(), 15)
    knn = tmp_path / "knn.npz"
    np.savez(knn, indices=indices, distances=distances)
    base = ["fit", path, "--drop-columns", "wine_id", "--label-column", "cultivar"]
    base += ["--epochs", "2", "--no-explorer", "--quiet"]
    common = [*base, "--knn-method", "exact"]
    searched, reused = tmp_path / "searched", tmp_path / "reused"
    assert main([str(a) for a in [*common, "--out", searched]]) == 0, capsys.readouterr().err
    args = [*common, "--out", reused, "--precomputed-knn", knn]
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    # the same neighbours, searched or read from the file: the same model
    a = pd.read_csv(searched / "embedding.csv")[["glassboxumap0", "glassboxumap1"]]
    b = pd.read_csv(reused / "embedding.csv")[["glassboxumap0", "glassboxumap1"]]
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    knobs = tmp_path / "knobs"
    args = [*base, "--out", knobs]
    args += ["--metric", "minkowski", "--metric-kwds", '{"p": 3}', "--spread", "1.5"]
    args += ["--local-connectivity", "2", "--set-op-mix-ratio", "0.5"]
    args += ["--neighbour-noise", "0.2", "--across-noise", "0.75", "--noise-free-fraction", "0.5"]
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    model = GlassBoxUMAP.load(knobs / "model.safetensors")
    assert (model.metric, model.metric_kwds, model.spread) == ("minkowski", {"p": 3}, 1.5)
    assert (model.local_connectivity, model.set_op_mix_ratio) == (2.0, 0.5)
    assert (model.neighbour_noise, model.across_noise, model.noise_free_fraction) == (
        0.2,
        0.75,
        0.5,
    )
    # without the flags, the estimator's defaults
    searched_model = GlassBoxUMAP.load(searched / "model.safetensors")
    assert (searched_model.neighbour_noise, searched_model.across_noise) == (0.5, "auto")
    assert searched_model.noise_free_fraction == 0.1
    np.savez(tmp_path / "bad.npz", idx=indices)
    assert main([str(a) for a in [*common, "--out", tmp_path / "x", "--precomputed-knn",
                                  tmp_path / "bad.npz"]]) == 2  # fmt: skip
    assert "--precomputed-knn: " in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # argparse's own usage error
        main([str(a) for a in [*common, "--out", tmp_path / "y", "--metric-kwds", "p=3"]])
    assert info.value.code == 2
    assert "argument --metric-kwds: expected a JSON object" in capsys.readouterr().err


def test_demo_writes_outputs(tmp_path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", out, "--epochs", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    for name in ["embedding.csv", "contributions.npy", "model.safetensors", "embedding.png"]:
        assert (out / name).is_file(), name
        assert str(out / name) in result.stdout
    assert "time: fit" in result.stdout
    emb = pd.read_csv(out / "embedding.csv")
    contributions = np.load(out / "contributions.npy")
    assert emb.shape == (1797, 4)
    assert contributions.shape == (1797, 2, 64) and contributions.dtype == np.float32
    np.testing.assert_allclose(
        contributions.sum(-1), emb[["glassboxumap0", "glassboxumap1"]], atol=1e-4
    )
    assert GlassBoxUMAP.load(out / "model.safetensors").n_features_in_ == 64


def test_demo_rejects_bad_epochs():
    result = run_cli("demo", "--epochs", "0", timeout=120)
    assert result.returncode == 2
    assert "--epochs" in result.stderr


def test_readers_agree_across_formats(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, 4))
    frame = pd.DataFrame(values, columns=list("abcd"))
    frame["kind"] = rng.choice(["x", "y"], size=30)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    np.save(tmp_path / "d.npy", values)
    adata = anndata.AnnData(
        X=values.astype(np.float32),
        obs=pd.DataFrame({"kind": frame["kind"].to_numpy()}, index=[f"c{i}" for i in range(30)]),
        var=pd.DataFrame(index=list("abcd")),
    )
    adata.write_h5ad(tmp_path / "d.h5ad")
    for suffix in ("csv", "tsv", "parquet", "h5ad"):
        table = read_table(tmp_path / f"d.{suffix}", label_column="kind")
        assert list(table.features.columns) == list("abcd"), suffix
        np.testing.assert_allclose(table.features.to_numpy(), values, rtol=1e-6)
        assert list(table.labels) == list(frame["kind"])
    table = read_table(tmp_path / "d.npy")
    assert list(table.features.columns) == ["x0", "x1", "x2", "x3"]
    np.testing.assert_array_equal(table.features.to_numpy(), values)
    assert list(read_table(tmp_path / "d.h5ad").features.index[:2]) == ["c0", "c1"]
    with pytest.raises(DataError, match="no column named \\['missing'\\]"):
        read_table(tmp_path / "d.csv", label_column="missing")
    frame.loc[3, "b"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    with pytest.raises(DataError, match="missing values in columns \\['b'\\]"):
        read_table(tmp_path / "nan.csv", label_column="kind")
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot be read"):
        read_table(tmp_path / "obj.npy")  # pickled arrays are never loaded


def test_ctrl_c_during_fit_exits_130_and_writes_nothing_finished(wine_csv, tmp_path):
    import signal
    import time

    path, _ = wine_csv
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "glass_box_umap.cli", "fit", path, "--out", out]
        + ["--label-column", "cultivar", "--drop-columns", "wine_id", "--epochs", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cpu_env(),
    )
    try:
        # The summary line comes right before the neighbour search; training follows in ~1 s.
        assert "samples x" in proc.stdout.readline()
        time.sleep(4)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    finished = {"embedding.csv", "contributions.npz", "model.safetensors", "embedding.png"}
    assert not finished & {p.name for p in out.glob("*")} and not (out / "explorer.html").exists()
    kept = out / "interrupted-model.safetensors"
    if kept.exists():  # the signal reached training, not the neighbour search
        assert f"kept {kept}" in err
        assert GlassBoxUMAP.load(kept).interrupted_


def test_headerless_csv_is_refused_or_read_whole(tmp_path):
    X = load_wine().data
    path = tmp_path / "plain.csv"
    np.savetxt(path, X, delimiter=",")
    with pytest.raises(DataError, match="--no-header"):
        read_table(path)
    table = read_table(path, header=False)
    assert table.features.shape == (178, 13)
    np.testing.assert_allclose(table.features.to_numpy(), X)
    assert list(table.features.columns[:2]) == ["x0", "x1"]
    assert read_table(path, header=True).features.shape == (177, 13)
    refused = run_cli("fit", path, "--out", tmp_path / "o", "--epochs", 1)
    assert refused.returncode == 2 and "--no-header" in refused.stderr
    assert not (tmp_path / "o").exists()


def test_output_paths_are_checked_before_any_work(
    fitted_dir, wine_csv, tmp_path, capsys, monkeypatch
):
    # --out that is a file (fit, explain, demo) or a folder (transform) once failed with
    # a traceback after the whole fit (issue 22, item 4); now one line, exit 2, first.
    import glass_box_umap
    from glass_box_umap import persistence
    from glass_box_umap.cli import main

    def no_work(*args, **kwargs):
        raise AssertionError("the run started working before checking its outputs")

    monkeypatch.setattr(glass_box_umap.GlassBoxUMAP, "fit_transform", no_work)
    monkeypatch.setattr(glass_box_umap.GlassBoxUMAP, "load", no_work)
    monkeypatch.setattr(persistence, "load_model", no_work)
    model, _ = fitted_dir
    model = model / "model.safetensors"
    path, _ = wine_csv
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    used = tmp_path / "used"
    (used / "embedding.csv").mkdir(parents=True)

    def error(*args):
        assert main([str(a) for a in args]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        return err

    fit = ["fit", path, "--label-column", "cultivar", "--drop-columns", "wine_id", "--quiet"]
    assert f"--out: {afile} is a file; give a folder" in error(*fit, "--out", afile)
    assert f"{afile} is a file, not a folder" in error(*fit, "--out", afile / "sub")
    assert f"--out: {used / 'embedding.csv'} is a folder" in error(*fit, "--out", used)
    assert f"--out: {afile} is a file" in error("demo", "--out", afile, "--epochs", "1")
    explain = ["explain", model, path, "--groups", "cultivar", "--drop-columns", "wine_id"]
    assert f"--out: {afile} is a file" in error(*explain, "--out", afile)
    transform = ["transform", model, path, "--drop-columns", "wine_id,cultivar"]
    assert f"--out: {used} is a folder" in error(*transform, "--out", used)
    assert "is a file, not a folder" in error(*transform, "--out", afile / "e.csv")
    assert afile.read_text() == "keep me"


def test_label_cells_are_checked_before_the_fit_and_a_refit_drops_a_stale_explorer(
    wine_csv, tmp_path, capsys
):
    pytest.importorskip("bokeh")
    from glass_box_umap.cli import main

    _, frame = wine_csv
    numbered = frame.drop(columns=["cultivar"]).assign(
        digit=[float(i % 3) if i % 5 else np.nan for i in range(len(frame))]
    )
    path = tmp_path / "numbered.csv"
    numbered.to_csv(path, index=False)
    out = tmp_path / "o"
    fit = ["fit", path, "--out", out, "--label-column", "digit", "--drop-columns", "wine_id"]
    fit += ["--epochs", "1", "--quiet"]
    # Empty cells in a numeric label column: the explorer refused them after the fit.
    assert main([str(a) for a in fit]) == 2
    err = capsys.readouterr().err
    assert "--label-column: column 'digit' has 36 empty cell(s) (first in row 0)" in err
    assert not out.exists()
    # With --supervised they are the unlabelled samples, and every output is written.
    assert main([str(a) for a in [*fit, "--supervised"]]) == 0, capsys.readouterr().err
    assert (out / "explorer.html").is_file()
    labels = pd.read_csv(out / "embedding.csv")["label"]
    assert (labels == "unlabelled").sum() == 36 and set(labels) == {
        "0.0",
        "1.0",
        "2.0",
        "unlabelled",
    }
    # A refit that writes no explorer removes the previous run's, and says so.
    assert main([str(a) for a in [*fit, "--supervised", "--no-explorer"]]) == 0
    assert f"removed {out / 'explorer.html'}" in capsys.readouterr().err
    assert not (out / "explorer.html").exists()
    assert (out / "model.safetensors").is_file()


def test_transform_ignores_text_columns_the_model_never_reads(
    fitted_dir, wine_csv, tmp_path, capsys
):
    # transform takes no --label-column, yet refused the ids and labels with a hint to
    # pass it (issue 22, item 9).
    from glass_box_umap.cli import main

    out, _ = fitted_dir
    path, frame = wine_csv
    model = out / "model.safetensors"
    assert main(["transform", str(model), str(path), "--out", str(tmp_path / "e.csv")]) == 0
    again = pd.read_csv(tmp_path / "e.csv")
    fitted = pd.read_csv(out / "embedding.csv")
    np.testing.assert_allclose(again.iloc[:, 1:3], fitted.iloc[:, 1:3], atol=1e-6)
    capsys.readouterr()
    # A column the model reads that holds text is refused, without --label-column.
    texty = frame.assign(alcohol=["x"] * len(frame))
    texty.to_csv(tmp_path / "texty.csv", index=False)
    assert main(["transform", str(model), str(tmp_path / "texty.csv")]) == 2
    err = capsys.readouterr().err
    assert "non-numeric columns ['alcohol']; the model was fitted on them as numbers" in err
    assert "--label-column" not in err


def test_id_column_names_the_samples(wine_csv, tmp_path, capsys):
    from glass_box_umap.cli import main

    path, frame = wine_csv
    out = tmp_path / "o"
    args = ["fit", path, "--out", out, "--id-column", "wine_id", "--label-column", "cultivar"]
    assert main([str(a) for a in [*args, "--epochs", "1", "--quiet", "--no-explorer"]]) == 0
    embedding = pd.read_csv(out / "embedding.csv")
    assert embedding["sample"].tolist() == frame["wine_id"].tolist()
    with np.load(out / "contributions.npz") as f:
        assert f["samples"].tolist() == frame["wine_id"].tolist()
        assert "wine_id" not in f["feature_names"].tolist()
    e = tmp_path / "e.csv"
    cmd = ["transform", out / "model.safetensors", path, "--id-column", "wine_id", "--out", e]
    assert main([str(a) for a in cmd]) == 0
    assert pd.read_csv(e)["sample"].tolist() == frame["wine_id"].tolist()
    capsys.readouterr()
    twice = frame.assign(wine_id=["same"] * len(frame))
    twice.to_csv(tmp_path / "twice.csv", index=False)
    cmd[2] = tmp_path / "twice.csv"
    assert main([str(a) for a in cmd]) == 2
    assert "--id-column 'wine_id' has duplicate ids ['same']" in capsys.readouterr().err
    cmd[3:5] = ["--id-column", "nope"]
    assert main([str(a) for a in cmd]) == 2
    assert "no column named ['nope']" in capsys.readouterr().err
