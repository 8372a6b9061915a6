"""Locally linear encoders and the registry that ``encoder_name`` looks them up in.

An encoder is an ``nn.Module`` built as ``cls(input_dims, n_components, **encoder_kwargs)``
that maps a batch of centred inputs of shape (n, \\*input_shape) to the embedding, of
shape (n, n_components). ``input_dims`` is the number of features (an int) for
tabular data, and the per-sample shape (a tuple such as ``(C, H, W)``) for N-D input.
For contributions to be exact the encoder must be positively homogeneous of degree one,
``f(x) = J(x) x``: no biases, no smooth activations, no shifts; :mod:`.layers` holds
building blocks that keep it so.

Shipped encoders:

``'default'``
    :class:`MLPEncoder`, a bias-free MLP with PReLU (flattens N-D input).
``'conv'``
    :class:`ConvEncoder`, bias-free convolutions, PReLU and pooling for (N, C, H, W) images.
``'residual'``
    :class:`ResidualEncoder`, a bias-free residual MLP.

Users add their own with :func:`register_encoder`, or pass a module (or a factory) to
``GlassBoxUMAP(encoder=...)`` without registering anything. A registered class that sets
the class attribute ``flat_input = True`` takes feature vectors only: ``fit`` then
refuses N-D ``X`` for it with an error naming ``X`` (the MLPs do, so that images passed
by mistake are not silently flattened); without it, N-D samples reach the encoder with
their shape.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from .conv import ConvEncoder
from .mlp import MLPEncoder
from .residual import ResidualEncoder

_REGISTRY: dict[str, type[nn.Module]] = {}
#: Names registered by this package; they cannot be replaced or removed.
SHIPPED_ENCODERS = ("default", "conv", "residual")

_Cls = TypeVar("_Cls", bound=type)


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function (of an instance's class otherwise)."""
    target = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", repr(target))
    return name if module in (None, "builtins") else f"{module}.{name}"


def _check_contract(name: str, cls: type) -> None:
    """Raise, naming the argument, unless ``cls(input_dims, n_components)`` can be called."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return  # no introspectable signature (a C extension): building will tell
    params = list(signature.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    where = f"register_encoder({name!r}): {qualified_name(cls)}({', '.join(map(str, params))})"
    if not takes_varargs and len(positional) < 2:
        missing = ("input_dims", "n_components")[len(positional)]
        raise TypeError(
            f"{where} must accept (input_dims, n_components, **encoder_kwargs); it takes no "
            f"positional argument for {missing}"
        )
    contract = positional[:2]
    required = [
        p.name
        for p in params
        if p not in contract
        and p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise TypeError(
            f"{where}: argument {required[0]!r} has no default, but encoder_kwargs is "
            "optional (default {}); give it a default"
        )


def register_encoder(name: str) -> Callable[[_Cls], _Cls]:
    """Class decorator that makes an encoder available as ``encoder_name=name``.

    Parameters
    ----------
    name : str
        The name to select the encoder by; it is also written to saved models, and a
        model is loaded again only where a class is registered under that name.

    Returns
    -------
    decorator
        Registers the class and returns it unchanged.

    Raises
    ------
    ValueError
        ``name`` is empty, shipped, or taken by another class. Re-registering the same
        class, or a class of the same qualified name (a re-run notebook cell, a reloaded
        module), replaces the entry instead.
    TypeError
        The class is not an ``nn.Module`` subclass, or its constructor cannot be called
        as ``cls(input_dims, n_components, **encoder_kwargs)``; the message names the
        argument at fault.

    Examples
    --------
    >>> from torch import nn
    >>> @register_encoder("linear")
    ... class LinearEncoder(nn.Module):
    ...     def __init__(self, input_dims, n_components):
    ...         super().__init__()
    ...         self.map = nn.Linear(input_dims, n_components, bias=False)
    ...     def forward(self, x):
    ...         return self.map(x)
    >>> "linear" in available_encoders()
    True
    >>> unregister_encoder("linear")
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: register_encoder needs a non-empty string, got {name!r}")

    def decorator(cls: _Cls) -> _Cls:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(
                f"register_encoder({name!r}): expected an nn.Module subclass, got "
                f"{qualified_name(cls)}; pass factories as GlassBoxUMAP(encoder=...) instead"
            )
        previous = _REGISTRY.get(name)
        if previous is not None and previous is not cls:
            if name in SHIPPED_ENCODERS or qualified_name(previous) != qualified_name(cls):
                raise ValueError(
                    f"register_encoder({name!r}): the name is already taken by "
                    f"{qualified_name(previous)}; choose another name"
                    + ("" if name in SHIPPED_ENCODERS else " or call unregister_encoder first")
                )
        _check_contract(name, cls)
        _REGISTRY[name] = cls
        return cls

    return decorator


def unregister_encoder(name: str) -> None:
    """Remove a user-registered encoder (shipped ones stay).

    Parameters
    ----------
    name : str
        The name it was registered under.

    Raises
    ------
    ValueError
        ``name`` is shipped or not registered.
    """
    if name in SHIPPED_ENCODERS:
        raise ValueError(f"name: {name!r} is a shipped encoder and cannot be unregistered")
    if name not in _REGISTRY:
        raise ValueError(f"name: no encoder registered as {name!r}")
    del _REGISTRY[name]


def available_encoders() -> list[str]:
    """Names accepted by ``encoder_name``, sorted.

    Returns
    -------
    list of str
        The shipped encoders' names and those registered with :func:`register_encoder`.
    """
    return sorted(_REGISTRY)


def get_encoder_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``.

    Parameters
    ----------
    name : str
        A name of :func:`~glass_box_umap.available_encoders`.

    Returns
    -------
    type
        The ``nn.Module`` subclass registered under ``name``.

    Raises
    ------
    ValueError
        Listing the available names, when ``name`` is not one of them.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"encoder_name: unknown encoder {name!r}; available: {available_encoders()}. "
            "Register your own with glass_box_umap.register_encoder(name)"
        ) from None


def build_encoder(
    name: str, input_dims: int | tuple[int, ...], n_components: int, kwargs: Mapping[str, Any]
) -> nn.Module:
    """Instantiate the encoder registered as ``name``.

    Parameters
    ----------
    name : str
        A registered name (``encoder_name``): ``'default'``, ``'conv'``, ``'residual'``
        or one given to :func:`~glass_box_umap.register_encoder`.
    input_dims : int or tuple of int
        Number of features, or the per-sample shape of N-D input.
    n_components : int
        The embedding's dimension, the encoder's number of outputs.
    kwargs : mapping
        ``encoder_kwargs``.

    Returns
    -------
    nn.Module
        ``cls(input_dims, n_components, **kwargs)``, checked against the encoder contract.

    Raises
    ------
    TypeError, ValueError
        Naming ``encoder_name`` / ``encoder_kwargs`` and, from the encoder's own check,
        the argument that was wrong.
    """
    cls = get_encoder_class(name)
    kwargs = dict(kwargs)
    call = f"{qualified_name(cls)}(input_dims={input_dims!r}, n_components={n_components!r}"
    call += "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"
    try:
        inspect.signature(cls).bind(input_dims, n_components, **kwargs)
    except TypeError as err:
        raise TypeError(
            f"encoder_kwargs: not accepted by encoder {name!r}, {call}: {err}"
        ) from None
    except ValueError:
        pass  # no introspectable signature: let the call itself tell
    try:
        encoder = cls(input_dims, n_components, **kwargs)
    except (TypeError, ValueError) as err:
        raise type(err)(
            f"encoder_name={name!r} with encoder_kwargs={kwargs!r}: {call} failed: {err}"
        ) from err
    if not isinstance(encoder, nn.Module):
        raise TypeError(
            f"encoder_name: {call} returned {qualified_name(encoder)}, not an nn.Module"
        )
    return encoder


def make_encoder(
    encoder: nn.Module | Callable[..., nn.Module],
    input_dims: int | tuple[int, ...],
    n_components: int,
) -> nn.Module:
    """The encoder given as ``GlassBoxUMAP(encoder=)``: a copy of a module, or built.

    Parameters
    ----------
    encoder : nn.Module or callable
        A module is deep-copied (so that every fit starts from the same weights and the
        caller's module is never trained); a callable is called as
        ``encoder(input_dims, n_components)`` and must return an ``nn.Module``.
    input_dims : int or tuple of int
        Number of features, or the per-sample shape of N-D input, passed to a callable
        (a module is copied as it is).
    n_components : int
        The embedding's dimension, passed to a callable.

    Returns
    -------
    nn.Module
        The copy, or the module the callable built.

    Raises
    ------
    TypeError, ValueError
        Naming ``encoder``.
    """
    if isinstance(encoder, nn.Module):
        return copy.deepcopy(encoder)
    if not callable(encoder):
        raise TypeError(
            "encoder: expected None, an nn.Module or a callable (input_dims, n_components) "
            f"-> nn.Module, got {qualified_name(encoder)}"
        )
    call = f"{qualified_name(encoder)}({input_dims!r}, {n_components!r})"
    try:
        built = encoder(input_dims, n_components)
    except (TypeError, ValueError) as err:
        raise type(err)(f"encoder: {call} failed: {err}") from err
    if not isinstance(built, nn.Module):
        raise TypeError(f"encoder: {call} returned {qualified_name(built)}, not an nn.Module")
    return built


register_encoder("default")(MLPEncoder)
register_encoder("conv")(ConvEncoder)
register_encoder("residual")(ResidualEncoder)

__all__ = [
    "SHIPPED_ENCODERS",
    "ConvEncoder",
    "MLPEncoder",
    "ResidualEncoder",
    "available_encoders",
    "build_encoder",
    "get_encoder_class",
    "make_encoder",
    "qualified_name",
    "register_encoder",
    "unregister_encoder",
]
