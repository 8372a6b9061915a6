"""Old spellings of the public API keep working for one release, with a FutureWarning.

One test per deprecated spelling; each also checks that the new spelling gives the same
result without a warning, and that passing both is an error.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from glass_box_umap import explain_groups, top_features  # noqa: E402
from glass_box_umap.plotting import plot_top_features  # noqa: E402


@pytest.fixture(scope="module")
def contributions():
    rng = np.random.default_rng(0)
    C = rng.normal(size=(30, 2, 5))
    return C, C.sum(-1), np.repeat(["a", "b", "c"], 10)


def test_explore_emb_keyword_is_renamed_embedding(contributions):
    from glass_box_umap.plotting.interactive import explore

    C, embedding, groups = contributions
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = explore(embedding, C, groups=groups)
    with pytest.warns(FutureWarning, match="emb= is renamed embedding="):
        old = explore(emb=embedding, contributions=C, groups=groups)
    assert old.select_one({"name": "points"}).data["x"].tolist() == (
        new.select_one({"name": "points"}).data["x"].tolist()
    )
    with pytest.raises(TypeError, match="got embedding= and its old name emb="):
        explore(embedding, C, emb=embedding)
    with pytest.raises(TypeError, match="missing required argument: 'embedding'"):
        explore(contributions=C)


def test_save_explorer_emb_keyword_is_renamed_embedding(contributions, tmp_path):
    from glass_box_umap.plotting import save_explorer

    C, embedding, _ = contributions
    with pytest.warns(FutureWarning, match="save_explorer: the keyword emb= is renamed"):
        path = save_explorer(tmp_path / "old.html", emb=embedding, contributions=C)
    assert path.stat().st_size > 0


def test_plot_top_features_n_keyword_is_renamed_k(contributions):
    C, _, groups = contributions
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_top_features(C, groups, k=3)
    shown = [len(ax.get_yticks()) for ax in fig.axes[:3]]
    plt.close(fig)
    with pytest.warns(FutureWarning, match="n= is renamed k="):
        old = plot_top_features(C, groups, n=3)
    assert [len(ax.get_yticks()) for ax in old.axes[:3]] == shown == [3, 3, 3]
    plt.close(old)
    with pytest.raises(TypeError, match="got k= and its old name n="):
        plot_top_features(C, groups, k=3, n=3)


def test_one_based_axis_columns_are_kept_beside_the_component_columns(contributions):
    C, _, groups = contributions
    table = explain_groups(C, groups)
    np.testing.assert_array_equal(table["mean_axis1"], table["mean_component0"])
    np.testing.assert_array_equal(table["mean_axis2"], table["mean_component1"])
    tops = top_features(C, k=2)
    np.testing.assert_array_equal(tops["contribution_axis1"], tops["contribution_component0"])


def test_tidy_frame_says_its_components_now_count_from_zero(contributions):
    from glass_box_umap import contributions_frame

    C, _, _ = contributions
    with pytest.warns(FutureWarning, match="now counts from 0"):
        frame = contributions_frame(C)
    assert sorted(frame["component"].unique()) == [0, 1]


def test_graph_module_is_split_and_its_names_resolve_with_a_warning():
    import pickle

    from glass_box_umap import affinity, nearest_neighbors
    from glass_box_umap import graph as old

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from glass_box_umap.nearest_neighbors import exact_knn as new_exact_knn
    with pytest.warns(FutureWarning, match="import exact_knn from glass_box_umap.nearest_neig"):
        from glass_box_umap.graph import exact_knn
    assert exact_knn is new_exact_knn
    for name in old.__all__:
        # affinity imports from nearest_neighbors, never the other way round.
        new = nearest_neighbors if hasattr(nearest_neighbors, name) else affinity
        with pytest.warns(FutureWarning, match=f"import {name} from {new.__name__}"):
            assert getattr(old, name) is getattr(new, name)
    assert len(old.__all__) == 31 and "build_graph" in dir(old)
    for gone in ("_refine", "check_n_neighbors", "torch"):
        with pytest.raises(AttributeError, match=f"has no attribute '{gone}'"):
            getattr(old, gone)
    # A pickle written before the split names glass_box_umap.graph.EdgeList.
    edges = affinity.EdgeList(np.array([0, 1]), np.array([1, 0]), np.ones(2, np.float32), 2)
    before = pickle.dumps(edges, protocol=0).replace(
        b"glass_box_umap.affinity", b"glass_box_umap.graph"
    )
    assert b"glass_box_umap.graph\nEdgeList" in before
    with pytest.warns(FutureWarning, match="import EdgeList from glass_box_umap.affinity"):
        loaded = pickle.loads(before)
    assert type(loaded) is affinity.EdgeList and loaded.n_vertices == 2
    np.testing.assert_array_equal(loaded.head, edges.head)
