"""The ``input_dims`` argument every encoder takes: an int, or a per-sample shape."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any


def as_shape(input_dims: Any) -> tuple[int, ...]:
    """``input_dims`` as a per-sample shape: ``64 -> (64,)``, ``(1, 8, 8) -> (1, 8, 8)``.

    Raises
    ------
    ValueError
        Naming ``input_dims`` when it is not a positive int or a non-empty tuple of them.
    """
    dims = (input_dims,) if isinstance(input_dims, Integral) else input_dims
    if (
        not isinstance(dims, (tuple, list))
        or not dims
        or any(isinstance(d, bool) or not isinstance(d, Integral) or d < 1 for d in dims)
    ):
        raise ValueError(
            f"input_dims: expected a positive int or a tuple of them, got {input_dims!r}"
        )
    return tuple(int(d) for d in dims)


def n_inputs(shape: tuple[int, ...]) -> int:
    """Number of input features: the product of the per-sample shape."""
    return math.prod(shape)


def check_positive_int(name: str, value: Any, low: int = 1) -> int:
    """``value`` if it is an int ``>= low``; a ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)
