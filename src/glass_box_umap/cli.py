"""Command line: ``glass-box-umap {fit, transform, explain, demo}``.

For people who do not write Python: fit a data file, embed new data with a saved model,
and explain groups — every output a plain file (CSV, NPZ, PNG, HTML, safetensors).
User mistakes (missing file, unreadable format, non-numeric or missing columns, bad
parameters) end with one line on stderr and exit status 2, before anything is fitted.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

#: Exit status for a problem with the user's input (argparse uses 2 as well).
EXIT_USAGE = 2
#: The shell convention for a run stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class _Timer:
    """Named wall-clock intervals, printed in the summary."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, name: str) -> _Timer:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.times[self._name] = time.perf_counter() - self._start

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.times.items())


def _use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def _write_embedding(path: Path, embedding: Any, index: Any, labels: Any = None) -> Path:
    import pandas as pd

    frame = pd.DataFrame(
        embedding, index=index, columns=[f"glassboxumap{k}" for k in range(embedding.shape[1])]
    )
    frame.index.name = "sample"
    if labels is not None:
        frame["label"] = list(labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)
    return path


def _write_contributions(path: Path, contributions: Any, names: Any, index: Any) -> Path:
    import numpy as np

    np.savez_compressed(
        path,
        contributions=contributions.astype(np.float32),
        feature_names=np.asarray([str(n) for n in names]),
        samples=np.asarray([str(i) for i in index]),
    )
    return path


def _explorer(path: Path, embedding: Any, contributions: Any, names: Any, groups: Any, X: Any):
    """The interactive explorer, or None (with the reason) when Bokeh is not installed."""
    try:
        from .plotting.interactive import save_explorer
    except ImportError as err:
        print(f"explorer skipped: {err.name} is not installed", file=sys.stderr)
        return None
    return save_explorer(
        path, embedding, contributions, feature_names=names, groups=groups, feature_values=X
    )


#: What each command writes into its output folder.
FIT_FILES = (
    "embedding.csv",
    "contributions.npz",
    "model.safetensors",
    "embedding.png",
    "explorer.html",
)
EXPLAIN_FILES = ("groups.csv", "embedding.csv", "contributions.npz", "top_features.png")
DEMO_FILES = ("embedding.csv", "contributions.npy", "model.safetensors", "embedding.png")
#: Shown for the samples of a --supervised fit's label column that have no label.
UNLABELLED = "unlabelled"


def _writable_parent(path: Path, flag: str) -> None:
    """Raise, naming ``flag``, unless ``path`` can be created: its nearest existing
    ancestor is a folder this process may write in."""
    import os

    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{flag}: cannot create {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}: cannot create {path}: no permission to write in {parent}")


def _check_out_folder(out: Path, files: tuple[str, ...], flag: str = "--out") -> None:
    """Raise before any work unless ``out`` is (or can become) a folder for ``files``."""
    import os

    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag}: {out} is a file; give a folder (it is created if missing)")
    if not out.exists():
        _writable_parent(out, flag)
        return
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}: no permission to write in {out}")
    for name in files:
        if (out / name).is_dir():
            raise ValueError(f"{flag}: {out / name} is a folder; the run writes a file there")


def _check_out_file(path: Path, flag: str = "--out") -> None:
    """Raise before any work unless ``path`` can be written as a file."""
    import os

    if path.is_dir():
        raise ValueError(f"{flag}: {path} is a folder; give the file to write (embedding.csv)")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ValueError(f"{flag}: no permission to overwrite {path}")
        return
    _writable_parent(path, flag)


def _display_labels(labels: Any, column: str, supervised: bool) -> Any:
    """The label column as the plots show it; empty cells refused unless ``supervised``.

    The plot and the explorer need a label for every sample. With --supervised, empty
    cells are the unlabelled samples (shown as "unlabelled"); otherwise they are a
    mistake, refused before anything is fitted.
    """
    missing = labels.isna()
    if not missing.any():
        return labels.to_numpy()
    if not supervised:
        first = labels.index[missing.to_numpy()][0]
        raise ValueError(
            f"--label-column: column {column!r} has {int(missing.sum())} empty cell(s) "
            f"(first in row {first}); fill them, or pass --supervised, for which empty "
            "cells are unlabelled samples"
        )
    return labels.astype(object).where(~missing, UNLABELLED).astype(str).to_numpy()


def _remove_stale_explorer(out: Path) -> None:
    """A refit into a used folder that writes no explorer removes the previous one."""
    stale = out / "explorer.html"
    if stale.is_file():
        stale.unlink()
        print(f"removed {stale}: it showed a previous run", file=sys.stderr)


def _report(paths: dict[str, Path | None], timer: _Timer) -> None:
    print(f"time: {timer.summary()}")
    for name, path in paths.items():
        if path is not None:
            print(f"{name:>13}: {path}")


# ---------------------------------------------------------------------- commands
def _fit(args: argparse.Namespace) -> int:
    _use_agg()
    import numpy as np

    from . import GlassBoxUMAP
    from .io import read_table
    from .parameters import check_params
    from .plotting import plot_embedding

    timer = _Timer()
    reducer = GlassBoxUMAP(
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        metric=args.metric,
        n_components=args.n_components,
        pca_components=args.pca_components,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        random_state=args.seed,
        quiet=args.quiet,
        target_weight=args.target_weight,
        knn_method=args.knn_method,
        input_noise=args.input_noise,
        # None: the estimator's default, which lives in one place (fitting.NEIGHBOUR_NOISE,
        # ACROSS_NOISE, NOISE_FREE_FRACTION).
        **{
            name: value
            for name in ("neighbour_noise", "across_noise", "noise_free_fraction")
            if (value := getattr(args, name)) is not None
        },
        metric_kwds=args.metric_kwds,
        spread=args.spread,
        local_connectivity=args.local_connectivity,
        set_op_mix_ratio=args.set_op_mix_ratio,
        disconnection_distance=args.disconnection_distance,
        precomputed_knn=_precomputed_knn(args.precomputed_knn),
        encoder_name=args.encoder,
        encoder_kwargs=_encoder_kwargs(args),
        trainer_kwargs=None if args.accelerator is None else {"accelerator": args.accelerator},
    )
    if args.supervised and args.label_column is None:
        raise ValueError("--supervised: needs --label-column, the column holding the classes")
    check_params(reducer.get_params())  # a bad parameter is reported before the file is read
    out = Path(args.out)
    _check_out_folder(out, FIT_FILES)
    with timer("read"):
        table = read_table(
            args.data,
            args.label_column,
            tuple(args.drop_columns),
            args.header,
            id_column=args.id_column,
        )
    X = table.features
    labels = (
        None
        if table.labels is None
        else _display_labels(table.labels, args.label_column, args.supervised)
    )
    y = None
    if args.supervised:
        import pandas as pd

        # Codes per class in order of appearance; empty cells become -1, unlabelled.
        y = pd.factorize(table.labels)[0]
        if (y < 0).all():
            raise ValueError(f"--supervised: column {args.label_column!r} has no labels")
    print(f"{table.source}: {X.shape[0]} samples x {X.shape[1]} features")
    if y is not None:
        print(
            f"supervised by {args.label_column!r}: {int(y.max()) + 1} classes, "
            f"{int((y < 0).sum())} unlabelled samples, target_weight {args.target_weight}"
        )
    with timer("fit"):
        embedding = reducer.fit_transform(X, y)
    if reducer.interrupted_:
        return _interrupted_fit(reducer, out)
    with timer("contributions"):
        contributions = reducer.compute_contributions(X)
    error = float(np.abs(contributions.sum(-1) - embedding).max())

    out.mkdir(parents=True, exist_ok=True)
    names = reducer.feature_names_in_
    with timer("write"):
        paths: dict[str, Path | None] = {
            "embedding": _write_embedding(out / "embedding.csv", embedding, X.index, labels),
            "contributions": _write_contributions(
                out / "contributions.npz", contributions, names, X.index
            ),
            "model": out / "model.safetensors",
            "plot": out / "embedding.png",
        }
        reducer.save(paths["model"])
        fig = plot_embedding(embedding, labels, title=table.source.name)
        fig.savefig(paths["plot"], dpi=120)
        if not args.no_explorer:
            paths["explorer"] = _explorer(
                out / "explorer.html", embedding, contributions, names, labels, X.to_numpy()
            )
        if paths.get("explorer") is None:
            _remove_stale_explorer(out)
    print(
        f"contributions {contributions.shape} sum to the embedding within {error:.2e} "
        f"(max |embedding| {np.abs(embedding).max():.2f})"
    )
    _report(paths, timer)
    return 0


def _interrupted_fit(reducer: Any, out: Path) -> int:
    """Keep the best weights of an interrupted fit under a name no finished run uses; exit 130.

    Scripts and Make read exit 0 and ``embedding.csv`` as done, so an interrupted run writes
    neither: only ``interrupted-model.safetensors``, which ``transform``/``explain`` can load.
    """
    out.mkdir(parents=True, exist_ok=True)
    kept = out / "interrupted-model.safetensors"
    reducer.save(kept)
    epoch = reducer.best_epoch_
    print(
        f"glass-box-umap fit: interrupted; kept {kept} (best weights so far, epoch "
        f"{'none' if epoch is None else epoch}); wrote no embedding, contributions, plot "
        "or explorer",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def _metric_kwds(text: str) -> dict[str, Any]:
    """``--metric-kwds`` as a dict, from JSON (``'{"p": 3}'``)."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(
            f"expected a JSON object such as '{{\"p\": 3}}' ({err})"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _precomputed_knn(path: str | None) -> tuple[Any, Any] | None:
    """``--precomputed-knn file.npz``: its ``indices`` and ``distances`` arrays."""
    if path is None:
        return None
    import numpy as np

    try:
        with np.load(path) as f:
            missing = [k for k in ("indices", "distances") if k not in f.files]
            if missing:
                raise ValueError(
                    f"--precomputed-knn: {path!r} lacks the array(s) {missing} (it holds "
                    f"{f.files}); save it with numpy.savez(path, indices=..., distances=...)"
                )
            return f["indices"], f["distances"]
    except (OSError, ValueError) as err:
        if str(err).startswith("--precomputed-knn"):
            raise
        raise ValueError(f"--precomputed-knn: cannot read {path!r} as .npz ({err})") from None


def _encoder_kwargs(args: argparse.Namespace) -> dict[str, int]:
    """``--hidden-size`` and ``--n-hidden-layers`` (or ``--n-blocks``), where given."""
    kwargs = {}
    if args.hidden_size is not None:
        kwargs["hidden_size"] = args.hidden_size
    if args.n_hidden_layers is not None:
        if args.encoder != "default":
            raise ValueError(
                f"--n-hidden-layers: only for --encoder default, got --encoder {args.encoder}"
            )
        kwargs["n_hidden_layers"] = args.n_hidden_layers
    if args.n_blocks is not None:
        if args.encoder != "residual":
            raise ValueError(
                f"--n-blocks: only for --encoder residual, got --encoder {args.encoder}"
            )
        kwargs["n_blocks"] = args.n_blocks
    return kwargs


def _non_numeric_hint(names: list[str] | None) -> str:
    """What transform and explain (which take no --label-column) say about text columns."""
    if names is None:
        return "pass --drop-columns to ignore them"
    return "the model was fitted on them as numbers"


def _load_for(args: argparse.Namespace):
    """The model, and the data file's columns in the model's order."""
    from . import GlassBoxUMAP
    from .io import read_table, select_features

    model = GlassBoxUMAP.load(args.model)
    names = getattr(model, "feature_names_in_", None)
    names = None if names is None else list(names)
    table = read_table(
        args.data,
        args.groups,
        tuple(args.drop_columns),
        args.header,
        id_column=args.id_column,
        features=names,
        hint=_non_numeric_hint(names),
    )
    X = select_features(table, names, model.n_features_in_)
    return model, table, X


def _load_map_for(args: argparse.Namespace):
    """The fitted map alone, and the data file's columns in the model's order.

    Embedding needs only the map (:class:`~glass_box_umap.model.GlassBoxMap`), so this
    path imports neither the estimator (scikit-learn) nor Lightning: a cold
    ``glass-box-umap transform`` pays for PyTorch, pandas and little else.
    """
    from .io import read_table, select_features
    from .persistence import load_model

    _, state = load_model(args.model)
    names = None if state.feature_names is None else list(state.feature_names)
    table = read_table(
        args.data,
        None,
        tuple(args.drop_columns),
        args.header,
        id_column=args.id_column,
        features=names,
        hint=_non_numeric_hint(names),
    )
    n_features = math.prod(state.map.input_shape)
    return state.map, table, select_features(table, names, n_features)


def _transform(args: argparse.Namespace) -> int:
    timer = _Timer()
    _check_out_file(Path(args.out))
    with timer("read"):
        map_, table, X = _load_map_for(args)
    with timer("transform"):
        embedding = map_.embed(map_.check_input(X, owner="the model"))
    path = _write_embedding(Path(args.out), embedding, X.index)
    print(f"{table.source}: {X.shape[0]} samples embedded")
    _report({"embedding": path}, timer)
    return 0


def _explain(args: argparse.Namespace) -> int:
    _use_agg()
    from .explain import explain_groups
    from .plotting import plot_top_features

    timer = _Timer()
    out = Path(args.out)
    _check_out_folder(out, EXPLAIN_FILES)
    with timer("read"):
        model, table, X = _load_for(args)
    groups = table.labels.astype(str).to_numpy()
    with timer("contributions"):
        embedding = model.transform(X)
        contributions = model.compute_contributions(X)
    names = list(X.columns)
    out.mkdir(parents=True, exist_ok=True)
    with timer("explain"):
        table_groups = explain_groups(contributions, groups, feature_names=names)
        paths: dict[str, Path | None] = {
            "groups": out / "groups.csv",
            "embedding": _write_embedding(out / "embedding.csv", embedding, X.index, groups),
            "contributions": _write_contributions(
                out / "contributions.npz", contributions, names, X.index
            ),
            "plot": out / "top_features.png",
        }
        table_groups.to_csv(paths["groups"], index=False)
        plot_top_features(contributions, groups, k=args.top, feature_names=names).savefig(
            paths["plot"], dpi=110
        )
    print(f"{table.source}: {X.shape[0]} samples in {len(set(groups))} groups of {args.groups!r}")
    for group, rows in table_groups.groupby("group", sort=True):
        top = rows.nsmallest(3, "rank")
        described = ", ".join(
            f"{r.feature} {100 * r.l2_share:.0f}%" for r in top.itertuples(index=False)
        )
        print(f"  {group}: {described}")
    _report(paths, timer)
    return 0


def _demo(args: argparse.Namespace) -> int:
    _use_agg()
    import numpy as np
    from sklearn.datasets import load_digits

    from . import GlassBoxUMAP
    from .plotting import plot_embedding

    timer = _Timer()
    out = Path(args.out)
    _check_out_folder(out, DEMO_FILES)
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    X, y = digits.data, digits.target
    print(f"Fitting GlassBoxUMAP (defaults, epochs={args.epochs}) on sklearn digits {X.shape}")
    with timer("fit"):
        reducer = GlassBoxUMAP(epochs=args.epochs, random_state=args.seed, quiet=args.quiet)
        embedding = reducer.fit_transform(X)
    with timer("contributions"):
        contributions = reducer.compute_contributions(X)
    gap = np.abs(contributions.sum(-1) - embedding).max()

    paths: dict[str, Path | None] = {
        "embedding": _write_embedding(out / "embedding.csv", embedding, np.arange(len(X)), y),
        "contributions": out / "contributions.npy",
        "model": out / "model.safetensors",
        "plot": out / "embedding.png",
    }
    np.save(paths["contributions"], contributions)
    reducer.save(paths["model"])
    fig = plot_embedding(embedding, y, title="sklearn digits, GlassBoxUMAP defaults")
    fig.savefig(paths["plot"], dpi=120)
    print(f"contributions {contributions.shape} sum to the embedding within {gap:.2e}")
    _report(paths, timer)
    return 0


# ---------------------------------------------------------------------- parser
def _columns(text: str) -> list[str]:
    return [c for c in text.split(",") if c]


def _header_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--no-header",
        dest="header",
        action="store_const",
        const=False,
        default=None,
        help="the .csv/.tsv has no header row: read the first row as a sample. Without it, "
        "a first row made only of numbers is refused, so that no sample is lost",
    )
    group.add_argument(
        "--numeric-header",
        dest="header",
        action="store_const",
        const=True,
        help="the first row is column names even though they are numbers (wavelengths, say)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``glass-box-umap`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="glass-box-umap",
        description="Parametric UMAP with exact per-feature contributions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    data_help = "data file: .csv, .tsv, .parquet, .npy or .h5ad (one sample per row)"
    drop_help = "comma-separated columns to ignore (ids, free text)"
    id_help = (
        "column of sample ids (unique): written as the sample column of embedding.csv and "
        "contributions.npz instead of row numbers; not a feature"
    )

    fit = sub.add_parser("fit", help="fit a data file; write embedding, contributions, model")
    fit.add_argument("data", help=data_help)
    fit.add_argument("--out", required=True, help="output folder")
    fit.add_argument(
        "--label-column",
        help="column of class labels: colours the plots (and supervises with --supervised); "
        "not a feature",
    )
    fit.add_argument(
        "--supervised",
        action="store_true",
        help="supervised UMAP: the label column reshapes the graph (empty cells = unlabelled)",
    )
    fit.add_argument(
        "--target-weight",
        type=float,
        default=0.5,
        help="with --supervised, how strongly labels reshape the graph, 0..1 (default: 0.5)",
    )
    fit.add_argument("--drop-columns", type=_columns, default=[], help=drop_help)
    fit.add_argument("--id-column", default=None, help=id_help)
    _header_flags(fit)
    fit.add_argument("--n-neighbors", type=int, default=15)
    fit.add_argument("--min-dist", type=float, default=0.1)
    fit.add_argument(
        "--metric",
        default="euclidean",
        help="any metric pynndescent knows, or 'precomputed' (the data is a square distance "
        "matrix) (default: euclidean)",
    )
    fit.add_argument(
        "--metric-kwds",
        type=_metric_kwds,
        default=None,
        help="metric keywords as JSON: '{\"p\": 3}'",
    )
    fit.add_argument(
        "--precomputed-knn",
        default=None,
        help=".npz file with 'indices' and 'distances' (n_samples, >= n_neighbors), each row "
        "starting with the sample itself: skips the neighbour search",
    )
    fit.add_argument("--spread", type=float, default=1.0)
    fit.add_argument("--local-connectivity", type=float, default=1.0)
    fit.add_argument("--set-op-mix-ratio", type=float, default=1.0)
    fit.add_argument("--disconnection-distance", type=float, default=None)
    fit.add_argument("--n-components", type=int, default=2)
    fit.add_argument("--pca-components", type=int, default=None)
    fit.add_argument("--epochs", type=int, default=200)
    fit.add_argument("--batch-size", type=int, default=10_000)
    fit.add_argument("--lr", type=float, default=1e-3)
    fit.add_argument(
        "--input-noise",
        type=float,
        default=0.0,
        help="training-input noise, a fraction of each point's neighbour distance; helps "
        "transform on new high-dimensional data, keeps low-dimensional manifolds rolled "
        "(default: 0)",
    )
    fit.add_argument(
        "--neighbour-noise",
        type=float,
        default=None,
        help="training noise along each point's graph neighbourhood, which makes transform "
        "of new points better (default: GlassBoxUMAP's, 0.5; 0 turns it off)",
    )
    fit.add_argument(
        "--across-noise",
        type=float,
        default=None,
        help="training noise across each point's graph neighbourhood, which makes transform "
        "of new points better (default: GlassBoxUMAP's 'auto', 1.0 on fits of at least "
        "1,000 steps; 0 turns it off)",
    )
    fit.add_argument(
        "--noise-free-fraction",
        type=float,
        default=None,
        help="fraction of the last epochs trained without noise (default: GlassBoxUMAP's, 0.1)",
    )
    fit.add_argument(
        "--encoder",
        choices=["default", "residual"],
        default="default",
        help="bias-free MLP (default) or residual MLP",
    )
    fit.add_argument("--hidden-size", type=int, default=None, help="encoder width (default: 128)")
    fit.add_argument(
        "--n-hidden-layers", type=int, default=None, help="default encoder depth (default: 3)"
    )
    fit.add_argument(
        "--n-blocks", type=int, default=None, help="residual encoder blocks (default: 2)"
    )
    fit.add_argument(
        "--knn-method",
        choices=["auto", "exact", "pynndescent", "faiss"],
        default="auto",
        help="nearest-neighbour search (default: auto = exact up to 20k rows or on a GPU)",
    )
    fit.add_argument(
        "--accelerator",
        choices=["auto", "cpu", "gpu"],
        default=None,
        help="where to train (default: a GPU when PyTorch sees one)",
    )
    fit.add_argument("--seed", type=int, default=0, help="random_state (default: 0)")
    fit.add_argument("--no-explorer", action="store_true", help="skip explorer.html")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(func=_fit)

    transform = sub.add_parser("transform", help="embed a data file with a saved model")
    transform.add_argument("model", help="model.safetensors written by fit")
    transform.add_argument("data", help=data_help)
    transform.add_argument("--out", default="embedding.csv", help="CSV to write")
    transform.add_argument("--drop-columns", type=_columns, default=[], help=drop_help)
    transform.add_argument("--id-column", default=None, help=id_help)
    _header_flags(transform)
    transform.set_defaults(func=_transform)

    explain = sub.add_parser("explain", help="which features place each group, per group")
    explain.add_argument("model", help="model.safetensors written by fit")
    explain.add_argument("data", help=data_help)
    explain.add_argument("--groups", required=True, help="column holding the group labels")
    explain.add_argument("--out", default="explanation", help="output folder")
    explain.add_argument("--top", type=int, default=10, help="features per group in the plot")
    explain.add_argument("--drop-columns", type=_columns, default=[], help=drop_help)
    explain.add_argument("--id-column", default=None, help=id_help)
    _header_flags(explain)
    explain.set_defaults(func=_explain)

    demo = sub.add_parser(
        "demo",
        help="fit sklearn's digits with defaults; write embedding, contributions and a plot",
    )
    demo.add_argument("--out", default="demo_output", help="output folder (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=200, help="training epochs (default: 200)")
    demo.add_argument("--seed", type=int, default=0, help="random_state (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        parser.error(f"--epochs: must be >= 1, got {args.epochs}")
    if getattr(args, "top", 1) < 1:
        parser.error(f"--top: must be >= 1, got {args.top}")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        # Outside training (reading, neighbour search, writing): nothing is kept.
        print(f"glass-box-umap {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, ValueError, TypeError) as err:
        # Our checks name the file, column or parameter; a traceback would hide that.
        print(f"glass-box-umap {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
