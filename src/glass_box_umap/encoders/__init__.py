"""Locally linear encoders and the registry that ``encoder_name`` looks them up in.

An encoder is an ``nn.Module`` built as ``cls(input_dims, n_components, **encoder_kwargs)``
that maps a batch of centred inputs to the embedding. For contributions to be exact it
must be positively homogeneous of degree one, ``f(x) = J(x) x``: no biases, no
smooth activations, no shifts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from .mlp import MLPEncoder

_REGISTRY: dict[str, type[nn.Module]] = {}


def register_encoder(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator that makes an encoder available as ``encoder_name=name``.

    The class must accept ``(input_dims, n_components, **encoder_kwargs)``.
    """

    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        if not isinstance(name, str) or not name:
            raise ValueError(f"register_encoder: name must be a non-empty string, got {name!r}")
        if name in _REGISTRY:
            raise ValueError(
                f"register_encoder: an encoder named {name!r} is already registered "
                f"({_REGISTRY[name].__qualname__})"
            )
        params = inspect.signature(cls).parameters
        positional = [
            p.name
            for p in params.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in params.values()):
            raise TypeError(
                f"register_encoder: {cls.__qualname__} must take (input_dims, n_components, "
                f"**encoder_kwargs); its constructor takes ({', '.join(params)})"
            )
        _REGISTRY[name] = cls
        return cls

    return decorator


def available_encoders() -> list[str]:
    """Names accepted by ``encoder_name``."""
    return sorted(_REGISTRY)


def get_encoder_class(name: str) -> type[nn.Module]:
    """The registered class for ``name``; a ValueError listing the choices otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"encoder_name: unknown encoder {name!r}; available: {available_encoders()}"
        ) from None


def build_encoder(name: str, input_dims: int, n_components: int, kwargs: dict) -> nn.Module:
    """Instantiate a registered encoder, turning bad keyword arguments into a clear error."""
    cls = get_encoder_class(name)
    try:
        inspect.signature(cls).bind(input_dims, n_components, **kwargs)
    except TypeError as err:
        raise TypeError(f"encoder_kwargs: not accepted by encoder {name!r}: {err}") from None
    try:
        return cls(input_dims, n_components, **kwargs)
    except (TypeError, ValueError) as err:
        raise type(err)(f"encoder_kwargs: rejected by encoder {name!r}: {err}") from err


register_encoder("default")(MLPEncoder)

__all__ = [
    "MLPEncoder",
    "available_encoders",
    "build_encoder",
    "get_encoder_class",
    "register_encoder",
]
