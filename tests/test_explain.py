"""Group-level explanations: exact shares, tidy tables, feature names from DataFrames."""

import numpy as np
import pandas as pd
import pytest

from glass_box_umap import GlassBoxUMAP, explain_difference, explain_groups, top_features

from .conftest import FAST, forward64


@pytest.fixture(scope="module")
def wine_frame(wine):
    from sklearn.datasets import load_wine

    X, y = wine
    return pd.DataFrame(X, columns=load_wine().feature_names), y


@pytest.fixture(scope="module")
def wine_fit(wine_frame):
    frame, y = wine_frame
    reducer = GlassBoxUMAP(random_state=0, **FAST).fit(frame)
    emb = reducer.transform(frame)
    return reducer, emb, reducer.compute_contributions(frame), y


def test_feature_names_flow_from_dataframe(wine_frame, wine_fit, tmp_path):
    frame, _ = wine_frame
    reducer, _, C, y = wine_fit
    assert list(reducer.feature_names_in_) == list(frame.columns)
    table = explain_groups(C, y, feature_names=reducer.feature_names_in_)
    assert set(table["feature"]) == set(frame.columns)
    tops = top_features(C, 2, reducer.feature_names_in_)
    assert set(tops["feature"]) <= set(frame.columns)
    diff = explain_difference(
        C, reducer.transform(frame), y == 0, y == 1, reducer.feature_names_in_
    )
    assert set(diff["feature"]) == set(frame.columns)
    # names survive save/load, and transform checks them
    reducer.save(tmp_path / "m.safetensors")
    loaded = GlassBoxUMAP.load(tmp_path / "m.safetensors")
    assert list(loaded.feature_names_in_) == list(frame.columns)
    with pytest.raises(ValueError, match="missing \\['alcohol'\\]"):
        loaded.transform(frame.drop(columns="alcohol").assign(extra=1.0))
    with pytest.raises(ValueError, match="order"):
        loaded.transform(frame[frame.columns[::-1]])
    np.testing.assert_array_equal(loaded.transform(frame.to_numpy()), reducer.transform(frame))


def test_numpy_fit_has_no_feature_names(fitted):
    assert not hasattr(fitted, "feature_names_in_")


def test_explain_groups_table(wine_fit):
    _, emb, C, y = wine_fit
    table = explain_groups(C, y)
    n_groups, n_features = 3, C.shape[2]
    assert len(table) == n_groups * n_features
    assert list(table.columns) == [
        "group",
        "feature",
        "n_samples",
        "mean_component0",
        "mean_component1",
        "mean_axis1",
        "mean_axis2",
        "mean_l2",
        "l2_share",
        "rank",
    ]
    for g in range(n_groups):
        rows = table[table["group"] == g]
        assert rows["n_samples"].iloc[0] == (y == g).sum()
        # mean contributions add up to the group centroid (exactness)
        centroid = emb[y == g].mean(axis=0)
        np.testing.assert_allclose(
            rows[["mean_component0", "mean_component1"]].sum().to_numpy(), centroid, atol=1e-4
        )
        # the deprecated 1-based spellings still hold the same numbers, for one release
        np.testing.assert_array_equal(rows["mean_axis2"], rows["mean_component1"])
        assert rows["l2_share"].sum() == pytest.approx(1.0, abs=1e-9)
        assert list(rows["rank"]) == list(range(1, n_features + 1))
        assert rows["l2_share"].is_monotonic_decreasing
        lengths = np.linalg.norm(C[y == g], axis=1).mean(axis=0)
        np.testing.assert_allclose(np.sort(rows["mean_l2"].to_numpy()), np.sort(lengths), rtol=1e-6)


def test_explain_difference_shares_sum_to_one(wine_fit, fitted, digits):
    reducer, emb, C, y = wine_fit
    diff = explain_difference(C, emb, y == 0, y == 2)
    assert diff["share"].sum() == pytest.approx(1.0, abs=1e-5)
    assert abs(diff.attrs["residual"]) <= 1e-5
    gap = np.linalg.norm(emb[y == 0].mean(0) - emb[y == 2].mean(0))
    assert diff.attrs["gap"] == pytest.approx(gap)
    assert diff["contribution"].sum() == pytest.approx(gap, rel=1e-5)
    assert list(diff["rank"]) == list(range(1, C.shape[2] + 1))
    assert diff["contribution"].is_monotonic_decreasing
    np.testing.assert_allclose(diff["position_a"] - diff["position_b"], diff["contribution"])
    # In float64 the split is exact to ~1e-12, measured against positions from an
    # independent float64 forward pass (not from the contributions themselves).
    X, labels = digits
    C64 = fitted.compute_contributions(X, dtype="float64")
    emb64 = forward64(fitted, X)
    scale = np.abs(emb64).max()
    assert np.abs(C64.sum(-1) - emb64).max() <= 1e-12 * scale
    d64 = explain_difference(C64, emb64, labels == 0, np.flatnonzero(labels == 1))
    assert abs(d64.attrs["residual"]) <= 1e-12
    # swapping the groups flips the direction but not the shares
    swapped = explain_difference(C, emb, y == 2, y == 0).set_index("feature")
    np.testing.assert_allclose(
        swapped.loc[diff["feature"], "share"].to_numpy(), diff["share"].to_numpy(), rtol=1e-9
    )


def test_explain_difference_checks(wine_fit):
    _, emb, C, y = wine_fit
    with pytest.raises(ValueError, match="embedding: differs"):
        explain_difference(C, emb + 1.0, y == 0, y == 1)
    with pytest.raises(ValueError, match="mask_a: selects no samples"):
        explain_difference(C, emb, y == 7, y == 1)
    with pytest.raises(ValueError, match="mask_b: boolean mask"):
        explain_difference(C, emb, y == 0, (y == 1)[:-1])
    with pytest.raises(ValueError, match="same centroid"):
        explain_difference(C, emb, y == 0, y == 0)
    with pytest.raises(ValueError, match="feature_names: has 2 names"):
        explain_difference(C, emb, y == 0, y == 1, ["a", "b"])


def test_top_features_per_sample():
    rng = np.random.default_rng(0)
    C = rng.normal(size=(5, 2, 6))
    C[:, :, 4] *= 100  # feature 4 dominates everywhere
    tops = top_features(C, k=3, feature_names=list("abcdef"))
    assert len(tops) == 15
    assert (tops[tops["rank"] == 1]["feature"] == "e").all()
    for i in range(5):
        rows = tops[tops["sample"] == i]
        lengths = np.linalg.norm(C[i], axis=0)
        expected = np.argsort(-lengths)[:3]
        assert list(rows["feature"]) == [list("abcdef")[j] for j in expected]
        np.testing.assert_allclose(rows["l2"], lengths[expected])
        np.testing.assert_allclose(rows["contribution_component0"], C[i, 0, expected])
        np.testing.assert_allclose(rows["contribution_component1"], C[i, 1, expected])
        np.testing.assert_array_equal(rows["contribution_axis2"], rows["contribution_component1"])
    with pytest.raises(ValueError, match="k: expected"):
        top_features(C, k=7)
    with pytest.raises(ValueError, match="contributions: expected"):
        top_features(C[0])


def test_explain_groups_checks():
    C = np.ones((4, 2, 3))
    with pytest.raises(ValueError, match="groups: expected shape"):
        explain_groups(C, [0, 1])
    with pytest.raises(ValueError, match="contributions: contains NaN"):
        explain_groups(np.full((4, 2, 3), np.nan), [0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"groups: 2 missing labels .* rows \[1, 3\]"):
        explain_groups(C, np.array(["a", None, "b", np.nan], dtype=object))


def test_image_contributions_are_explained_per_pixel():
    """(n, k, C, H, W) contributions work everywhere, pixels named x[c,h,w] in C order."""
    from glass_box_umap import contributions_frame
    from glass_box_umap.plotting import plot_feature_contribution

    rng = np.random.default_rng(1)
    C = rng.normal(size=(12, 2, 2, 3, 4))
    C[:, :, 1, 2, 3] *= 50  # one pixel dominates
    flat = C.reshape(12, 2, -1)
    emb = flat.sum(-1)
    groups = np.repeat(["a", "b"], 6)
    names = [f"x[{c},{h},{w}]" for c in range(2) for h in range(3) for w in range(4)]

    table = explain_groups(C, groups)
    pd.testing.assert_frame_equal(table, explain_groups(flat, groups, feature_names=names))
    assert set(table[table["rank"] == 1]["feature"]) == {"x[1,2,3]"}
    diff = explain_difference(C, emb, groups == "a", groups == "b")
    assert diff["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (top_features(C, k=1)["feature"] == "x[1,2,3]").all()
    with pytest.warns(FutureWarning, match="counts from 0"):
        frame = contributions_frame(C)
    assert len(frame) == C.size
    assert list(frame["feature"].cat.categories) == names
    np.testing.assert_array_equal(frame["contribution"].to_numpy(), flat.ravel())
    fig = plot_feature_contribution(emb, C, "x[1,2,3]")
    assert fig is not None
    with pytest.raises(ValueError, match="feature_names: has 3 names for 24 features"):
        explain_groups(C, groups, feature_names=["a", "b", "c"])
