"""What each parameter of :class:`~glass_box_umap.GlassBoxUMAP` may hold: one table.

In the style of scikit-learn's ``_parameter_constraints``: :data:`PARAMETER_CONSTRAINTS`
maps every parameter to the constraints it may satisfy (an :class:`Interval`, an
:class:`Options` set, ``None``, or a checking function), and :func:`check_params` reads
the table with the helpers of :mod:`._validation`, then runs the checks that involve two
parameters at once. Errors name the parameter and say what was wrong.

Nothing here imports Lightning, so that loading a model (which checks the saved
parameters) stays light. Lightning's own verdict on ``trainer_kwargs`` (an argument the
Trainer does not take, a device that is absent) comes once per fit, from
:func:`glass_box_umap.training.check_trainer_kwargs`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from . import _validation as check
from .affinity import check_fuzzy_set_params
from .encoders import get_encoder_class
from .nearest_neighbors import (
    ALL_METRICS,
    KNN_METHODS,
    METRIC_ALIASES,
    PRECOMPUTED,
    check_metric,
)


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (``Integral`` or ``Real``) between ``low`` and ``high``.

    ``closed`` says which ends are included: ``'both'``, ``'left'`` or ``'right'``.
    Reals must be finite; booleans are never numbers.
    """

    kind: type
    low: float
    high: float | None = None
    closed: str = "both"

    def __call__(self, name: str, value: Any) -> int | float:
        if self.kind is Integral:
            return check.check_int(name, value, int(self.low), self.high)
        return check.check_float(
            name,
            value,
            self.low,
            math.inf if self.high is None else self.high,
            low_inclusive=self.closed in ("both", "left"),
        )


@dataclass(frozen=True)
class Options:
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def __call__(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise ValueError(f"{name}: expected one of {list(self.values)}, got {value!r}")
        return value


def _auto_or_non_negative(name: str, value: Any) -> str | float:
    """``'auto'``, or a real number of at least 0."""
    if isinstance(value, str):
        if value == "auto":
            return value
        raise ValueError(f"{name}: expected 'auto' or a number >= 0, got {value!r}")
    return Interval(Real, 0.0)(name, value)


def _metric(name: str, value: Any) -> str:
    if not isinstance(value, str) or (value not in ALL_METRICS and value not in METRIC_ALIASES):
        raise ValueError(
            f"{name}: unknown metric {value!r}; available: {[*ALL_METRICS, *METRIC_ALIASES]}"
        )
    return value


def _disconnection_distance(name: str, value: Any) -> float:
    return check_fuzzy_set_params(disconnection_distance=value)[2]


def _neighbour_arrays(name: str, value: Any) -> tuple[Any, ...]:
    # Shapes, dtypes and ranges are checked at fit, where the number of samples is known.
    if not isinstance(value, (tuple, list)) or len(value) not in (2, 3):
        raise TypeError(
            f"{name}: expected None or a tuple (indices, distances), as umap-learn takes it, "
            f"got {type(value).__name__}"
        )
    return tuple(value)


def _boolean(name: str, value: Any) -> bool:
    return check.check_bool(name, value)


def _random_state(name: str, value: Any) -> int:
    """An int seed; a numpy ``RandomState`` or ``Generator`` gives one (advancing it, as
    scikit-learn's estimators do), so that a pipeline's shared generator works here too."""
    if isinstance(value, np.random.RandomState):
        return int(value.randint(np.iinfo(np.int32).max))
    if isinstance(value, np.random.Generator):
        return int(value.integers(2**63 - 1))
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"{name}: expected None, an int, a numpy.random.RandomState or a "
            f"numpy.random.Generator, got {type(value).__name__}"
        )
    return check.check_int(name, value, 0, 2**63 - 1)


def _encoder_name(name: str, value: Any) -> str:
    get_encoder_class(value)  # raises, naming encoder_name and the registered names
    return value


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a dict, got {type(value).__name__}")
    return dict(value)


def _path(name: str, value: Any) -> str | Path:
    if not isinstance(value, (str, Path)):
        raise TypeError(f"{name}: expected a path or None, got {type(value).__name__}")
    return value


def _callbacks(name: str, value: Any) -> list[Any]:
    # A Lightning callback exists only once Lightning is imported: without it in
    # sys.modules no value can be one, and checking costs no import.
    lightning = sys.modules.get("lightning.pytorch")
    if not isinstance(value, (list, tuple)) or (
        value and (lightning is None or not all(isinstance(cb, lightning.Callback) for cb in value))
    ):
        raise TypeError(f"{name}: expected a list of lightning.pytorch.Callback")
    return list(value)


def _encoder(name: str, value: Any) -> nn.Module | Callable[..., nn.Module]:
    if not (isinstance(value, nn.Module) or callable(value)):
        raise TypeError(
            f"{name}: expected None, an nn.Module or a callable (input_dims, n_components) "
            f"-> nn.Module, got {type(value).__name__}"
        )
    return value


#: Trainer arguments the estimator sets itself, and why they are not ``trainer_kwargs``.
RESERVED_TRAINER_KWARGS = {
    "max_epochs": "set it with the `epochs` parameter",
    "callbacks": "pass callbacks in the `extra_callbacks` parameter",
    "enable_progress_bar": "set by the `quiet` parameter",
    "default_root_dir": "set by the `checkpoint_dir` parameter",
    "logger": "TensorBoard logs go to `checkpoint_dir`",
    "enable_checkpointing": "checkpoints go to `checkpoint_dir`",
    "limit_train_batches": "set it with the `num_batches` parameter",
    "limit_val_batches": "there is no validation loop",
    "num_sanity_val_steps": "there is no validation loop",
    "accumulate_grad_batches": "every step optimises its own batch of edges",
    "gradient_clip_val": "the module steps its optimiser itself (manual optimisation)",
    "gradient_clip_algorithm": "the module steps its optimiser itself (manual optimisation)",
}
#: ``precision`` values ``trainer_kwargs`` may hold: the encoder's weights stay float32
#: (so that contributions are float32/float64); only the training arithmetic may be lower.
TRAINER_PRECISIONS = (32, "32", "32-true", "bf16", "bf16-mixed", 16, "16", "16-mixed")


def trainer_kwargs_shape(name: str, value: Any) -> dict[str, Any]:
    """``trainer_kwargs`` as a dict with string keys, none reserved, a float32-weights precision.

    Whether ``lightning.pytorch.Trainer`` takes the keys is checked at fit, by
    :func:`glass_box_umap.training.check_trainer_kwargs`.
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a dict or None, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{name}: keys must be strings, got {key!r}")
        if key in RESERVED_TRAINER_KWARGS:
            raise ValueError(
                f"{name}: {key!r} conflicts with a setting glass_box_umap makes: "
                f"{RESERVED_TRAINER_KWARGS[key]}"
            )
    precision = value.get("precision", "32-true")
    if precision not in TRAINER_PRECISIONS:
        raise ValueError(
            f"{name}: precision {precision!r} is not supported; the encoder must keep "
            f"float32 weights, so use one of {list(TRAINER_PRECISIONS)} (e.g. 'bf16-mixed')"
        )
    return dict(value)


#: Every parameter and the constraints its value may meet (the first that accepts it
#: wins; ``None`` in a list allows None). A check returns the value as the fit uses it.
PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "n_neighbors": [Interval(Integral, 2)],
    "min_dist": [Interval(Real, 0.0)],
    "metric": [_metric],
    "n_components": [Interval(Integral, 1)],
    "negative_sample_rate": [Interval(Integral, 1)],
    "repulsion_strength": [Interval(Real, 0.0)],
    "pca_components": [None, Interval(Integral, 1)],
    "encoder_name": [_encoder_name],
    "encoder_kwargs": [_mapping],
    "lr": [Interval(Real, 0.0, closed="right")],
    "epochs": [Interval(Integral, 1)],
    "batch_size": [Interval(Integral, 1)],
    "num_batches": [None, Interval(Integral, 1)],
    "num_workers": [Interval(Integral, 0)],
    "checkpoint_dir": [None, _path],
    "restore_best_weights": [_boolean],
    "random_state": [None, _random_state],
    "quiet": [_boolean],
    "extra_callbacks": [_callbacks],
    "target_weight": [Interval(Real, 0.0, 1.0)],
    "knn_method": [Options(KNN_METHODS)],
    "trainer_kwargs": [None, trainer_kwargs_shape],
    "encoder": [None, _encoder],
    "input_noise": [Interval(Real, 0.0)],
    "neighbour_noise": [Interval(Real, 0.0)],
    "across_noise": [_auto_or_non_negative],
    "noise_free_fraction": [Interval(Real, 0.0, 1.0)],
    "metric_kwds": [None, _mapping],
    "spread": [Interval(Real, 0.0, closed="right")],
    "local_connectivity": [Interval(Real, 0.0)],
    "set_op_mix_ratio": [Interval(Real, 0.0, 1.0)],
    "disconnection_distance": [None, _disconnection_distance],
    "precomputed_knn": [None, _neighbour_arrays],
    "warm_start": [_boolean],
    "landmark_weight": [Interval(Real, 0.0)],
}


def check_param(name: str, value: Any) -> Any:
    """One parameter checked against its entry of :data:`PARAMETER_CONSTRAINTS`."""
    constraints = PARAMETER_CONSTRAINTS[name]
    if value is None and None in constraints:
        return None
    checks = [c for c in constraints if c is not None]
    # One check per parameter (None aside): its error is the one worth reading.
    (only,) = checks
    return only(name, value)


def check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validated copies of all parameters; raises naming the first bad one.

    Parameters
    ----------
    params : mapping
        Every name of :data:`PARAMETER_CONSTRAINTS` (``estimator.get_params()``).

    Returns
    -------
    dict
        The values as a fit uses them (``trainer_kwargs=None`` becomes ``{}``).

    Raises
    ------
    TypeError, ValueError
        Naming the parameter; also for combinations that cannot work together.
    """
    unknown = sorted(set(params) - set(PARAMETER_CONSTRAINTS))
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown}")
    p = {name: check_param(name, params[name]) for name in PARAMETER_CONSTRAINTS}
    if p["trainer_kwargs"] is None:
        p["trainer_kwargs"] = {}
    if p["encoder"] is not None:
        if p["encoder_kwargs"]:
            raise ValueError(
                f"encoder_kwargs: {p['encoder_kwargs']} would be ignored because encoder is "
                "given; configure the module (or factory) itself and leave encoder_kwargs empty"
            )
        if p["encoder_name"] != "default":
            raise ValueError(
                f"encoder_name: {p['encoder_name']!r} would be ignored because encoder is "
                "given; set one or the other"
            )
    p["metric_kwds"] = check_metric(p["metric"], p["metric_kwds"], p["knn_method"])
    if p["min_dist"] > p["spread"]:
        raise ValueError(
            f"min_dist: must be at most spread={p['spread']} (umap-learn's rule), got "
            f"{p['min_dist']}"
        )
    if p["precomputed_knn"] is not None and p["metric"] == PRECOMPUTED:
        raise ValueError(
            "precomputed_knn: give neighbours or metric='precomputed' distances, not both"
        )
    return p


def check_fit_data(X: Any, input_shape: tuple[int, ...], p: Mapping[str, Any]) -> None:
    """Refuse data the checked parameters ``p`` cannot work with, before any expensive work.

    ``X`` is (n_samples, n_features) (validated, maybe sparse) and ``input_shape`` the
    shape of one sample (:func:`~glass_box_umap._validation.check_samples`).
    """
    n_samples, n_features = X.shape
    if p["metric"] == PRECOMPUTED and n_samples != n_features:
        raise ValueError(
            f"X: with metric='precomputed', expected a square distance matrix, got shape {X.shape}"
        )
    if len(input_shape) > 1:
        if p["encoder"] is None and getattr(
            get_encoder_class(p["encoder_name"]), "flat_input", False
        ):
            raise ValueError(
                f"X: expected a 2-D array (n_samples, n_features), got samples of shape "
                f"{input_shape}: encoder_name={p['encoder_name']!r} takes feature vectors. "
                "Flatten X (X.reshape(len(X), -1)), or use an encoder for N-D input "
                "(encoder_name='conv')"
            )
        if p["pca_components"] is not None:
            raise ValueError(
                f"pca_components: must be None for N-D input (samples of shape "
                f"{input_shape}), got {p['pca_components']}"
            )
    if n_samples < p["n_neighbors"] + 1:
        raise ValueError(
            f"X: has {n_samples} samples, but n_neighbors={p['n_neighbors']} needs "
            f"at least {p['n_neighbors'] + 1}"
        )
    check.check_distinct(X, p["n_neighbors"])
    if p["pca_components"] is not None and p["pca_components"] > min(n_samples, n_features):
        raise ValueError(
            f"pca_components: {p['pca_components']} exceeds min(n_samples, n_features) "
            f"= {min(n_samples, n_features)}"
        )


def check_landmarks(positions: Any, n_samples: int, n_components: int) -> np.ndarray | None:
    """``landmark_positions`` of ``fit`` as float32 (n_samples, n_components), NaN rows free.

    Raises, naming ``landmark_positions``, for another shape, non-numeric values, a row
    partly NaN, infinite values, or no landmark at all.
    """
    if positions is None:
        return None
    try:
        P = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"landmark_positions: expected an array of numbers ({err})") from None
    if P.shape != (n_samples, n_components):
        raise ValueError(
            f"landmark_positions: expected shape ({n_samples}, {n_components}), one row per "
            f"sample of X and a column per component, got {P.shape}"
        )
    missing = np.isnan(P)
    partial = missing.any(axis=1) & ~missing.all(axis=1)
    if partial.any():
        raise ValueError(
            f"landmark_positions: row {int(np.flatnonzero(partial)[0])} is partly NaN; a row "
            "is either a position (all finite) or free (all NaN)"
        )
    if np.isinf(P).any():
        raise ValueError("landmark_positions: contains infinity")
    if missing.all():
        raise ValueError("landmark_positions: every row is NaN, so there is no landmark")
    return P.astype(np.float32)


__all__ = [
    "PARAMETER_CONSTRAINTS",
    "RESERVED_TRAINER_KWARGS",
    "TRAINER_PRECISIONS",
    "Interval",
    "Options",
    "check_fit_data",
    "check_landmarks",
    "check_param",
    "check_params",
    "trainer_kwargs_shape",
]


def python_scalars(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with numpy scalars replaced by the Python numbers their check returns.

    ``fit`` accepts ``np.int64(15)`` for ``n_neighbors`` (what ``GridSearchCV`` over
    ``np.arange`` sets), so ``save`` must be able to write it: the checked value, not the
    stored one, is what JSON can hold. Other values are returned as they are.

    Parameters
    ----------
    params : mapping
        Names of :data:`PARAMETER_CONSTRAINTS` (``estimator.get_params()``).

    Returns
    -------
    dict
        A copy; numpy scalars (``np.generic``) become ``int``, ``float``, ``bool`` or ``str``.
    """
    return {
        name: check_param(name, value)
        if isinstance(value, np.generic) and name in PARAMETER_CONSTRAINTS
        else value
        for name, value in params.items()
    }
