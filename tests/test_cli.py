import subprocess
import sys

import numpy as np

from glass_box_umap import GlassBoxUMAP


def test_demo_writes_outputs(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "glass_box_umap.cli",
            "demo",
            "--out",
            str(out),
            "--epochs",
            "3",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for name in ["embedding.csv", "contributions.npy", "model.safetensors", "embedding.png"]:
        assert (out / name).is_file(), name
        assert str(out / name) in result.stdout
    assert "fit:" in result.stdout and " s" in result.stdout
    emb = np.loadtxt(out / "embedding.csv", delimiter=",", skiprows=1)
    contributions = np.load(out / "contributions.npy")
    assert emb.shape == (1797, 3)
    assert contributions.shape == (1797, 2, 64) and contributions.dtype == np.float32
    model = GlassBoxUMAP.load(out / "model.safetensors")
    np.testing.assert_allclose(contributions.sum(-1), emb[:, :2], atol=1e-4, rtol=1e-5)
    assert model.n_features_in_ == 64


def test_demo_rejects_bad_epochs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "glass_box_umap.cli", "demo", "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--epochs" in result.stderr
