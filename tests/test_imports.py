"""How the package's modules depend on each other, read from their source (ast).

Every import counts, at module level or inside a function, so a circle hidden by a
function-level import is still a circle. Private names (``_x``) stay in their module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import glass_box_umap

from .conftest import cpu_env

PACKAGE = Path(glass_box_umap.__file__).parent
DATA = Path(__file__).parent / "data"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None]]:
    """(module imported, name imported from it or None) for every import of the package's."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, None))
                elif target in modules:
                    found.append((target, alias.name))
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name in modules]
    return found


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    modules = _modules()
    edges, private = {}, []
    for name, path in modules.items():
        edges[name] = set()
        for target, imported in _imports(name, path, modules):
            if target != name:
                edges[name].add(target)
            if imported is not None and imported.startswith("_") and target != name:
                private.append((name, target, imported))
    return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary circle, each found once from its smallest module name."""
    found = []
    for start in sorted(edges):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges[node]):
                if nxt == start:
                    found.append(path)
                elif nxt > start and nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    return found


def test_the_import_walker_sees_function_level_imports_and_circles():
    tree = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(tree) == [["a", "b", "c"]]
    edges, _ = _graph()
    # a function-level import (the estimator imports training only when it fits)
    assert "glass_box_umap.training" in edges["glass_box_umap.estimator"]


def test_no_import_circle_between_the_package_modules():
    edges, _ = _graph()
    assert _cycles(edges) == []


def test_no_private_name_is_imported_across_modules():
    _, private = _graph()
    assert private == []


def test_loading_and_explaining_never_import_lightning():
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from glass_box_umap import GlassBoxUMAP, check_exactness

        model = GlassBoxUMAP.load({str(DATA / "format1_wine.safetensors")!r})
        X = np.load({str(DATA / "expected.npz")!r})["X"]
        model.transform(X)
        model.compute_contributions(X)
        model.compute_contributions(X, dtype="float64", reduction="l2")
        model.compute_jacobian(X)
        assert check_exactness(model, X).exact
        training_stack = ("lightning", "pytorch_lightning")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in training_stack)
        print(loaded)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cpu_env(), check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_command_line_transform_needs_neither_scikit_learn_nor_lightning(tmp_path):
    import numpy as np

    np.save(tmp_path / "X.npy", np.load(DATA / "expected.npz")["X"])
    model = DATA / "format1_wine_pca_residual.safetensors"  # fitted without column names
    code = textwrap.dedent(
        f"""
        import sys
        from glass_box_umap.cli import main

        sys.argv = ["glass-box-umap", "transform", {str(model)!r},
                    {str(tmp_path / "X.npy")!r}, "--out", {str(tmp_path / "e.csv")!r}]
        assert main() == 0
        heavy = ("sklearn", "lightning", "matplotlib", "bokeh", "numba")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cpu_env(), check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    assert (tmp_path / "e.csv").read_text().startswith("sample,glassboxumap0,glassboxumap1")
