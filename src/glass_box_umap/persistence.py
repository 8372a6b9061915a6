"""Saving and loading fitted models as data only.

A model file is a single safetensors file: tensors (encoder weights, training mean,
input scale, PCA axes, training embedding) plus a JSON document in the header's metadata with the
parameters, encoder name and keyword arguments, training history and package version.
Reading it parses JSON and raw arrays; nothing is unpickled or executed.

Because a file holds no code, the encoder's architecture is rebuilt from what the
reader has: a registered name (``encoder_name``, with ``encoder_kwargs``), or, for a
model trained with ``GlassBoxUMAP(encoder=...)``, the module or factory passed to
``GlassBoxUMAP.load(path, encoder=...)``. The file records the encoder's class (and
factory) name so that a failed load can say what to register or pass.

Format versions: 1 for flat input and a registered encoder (what every version reads);
2 adds N-D samples (``input_shape``) and encoders passed as ``encoder=``; 3 adds the
input scale (a float64 tensor ``scale``), written whenever it is not 1. Files without
it load with scale 1 and compute as they were saved.

The metadata's ``sha256`` (any format version; older readers ignore it) holds a SHA-256
of each tensor's dtype, shape and bytes, verified at load: a damaged weight is refused
by name. Files written before it load unverified.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from ._metadata import package_version
from .encoders import available_encoders, build_encoder, make_encoder, qualified_name
from .model import FittedState, GlassBoxMap, encoder_input_dims
from .parameters import check_param

FORMAT_NAME = "glass_box_umap"
FORMAT_VERSION = 3
_METADATA_KEY = "glass_box_umap"
_ENCODER_PREFIX = "encoder."
#: Parameters that hold live objects rather than data; they are not written.
_UNSAVED_PARAMS = ("extra_callbacks", "encoder", "precomputed_knn")


def save_model(path: str | Path, params: dict[str, Any], state: FittedState) -> None:
    """Write a fitted model to ``path`` atomically (temporary file in the same folder, then rename).

    A symlink is followed: the file it points to is replaced, the link kept. A
    read-only file is not replaced (PermissionError naming it), and neither is a
    folder.

    Parameters
    ----------
    path : str or Path
    params : dict
        The estimator's parameters (``get_params()``); live objects are left out.
    state : FittedState
        The fitted map and what else the fit left behind (the graph is not written).
    """
    path = Path(path)
    map_ = state.map
    spec = params.get("encoder")
    params = {k: v for k, v in params.items() if k not in _UNSAVED_PARAMS}
    if params["checkpoint_dir"] is not None:
        params["checkpoint_dir"] = str(params["checkpoint_dir"])
    params["encoder_kwargs"] = dict(params["encoder_kwargs"])
    if isinstance(params.get("random_state"), (np.random.RandomState, np.random.Generator)):
        # A generator is state, not data: the file says the seed is not reproducible.
        params["random_state"] = None
    if params.get("trainer_kwargs") is not None:
        params["trainer_kwargs"] = _json_trainer_kwargs(params["trainer_kwargs"])
    input_shape = list(map_.input_shape)
    encoder_info = _encoder_info(spec, map_.encoder)
    # Files that older readers can rebuild keep format 1.
    flat_and_registered = len(input_shape) == 1 and encoder_info["source"] == "registry"
    # A reader that knows no input scale would ignore it and embed wrongly: such files
    # are format 3, which older readers refuse, asking for an upgrade.
    scaled = float(map_.scale) != 1.0
    meta = {
        "format": FORMAT_NAME,
        "format_version": 3 if scaled else 1 if flat_and_registered else 2,
        "package_version": package_version(),
        "params": params,
        "n_features_in": int(np.prod(input_shape)),
        "input_shape": input_shape,
        "encoder": encoder_info,
        "feature_names_in": (
            None if state.feature_names is None else [str(c) for c in state.feature_names]
        ),
        "a": state.a,
        "b": state.b,
        "best_epoch": state.best_epoch,
        "interrupted": state.interrupted,
        "history": state.history,
    }
    # The map's state (encoder weights, float64 mean) under the names format 1 gave them;
    # the float32 projection is rebuilt from the float64 PCA axes, saved as they were fit.
    # Cloned: safetensors refuses tensors that share memory (a module used twice).
    tensors = {
        k: v.detach().cpu().clone().contiguous()
        for k, v in map_.state_dict().items()
        if k != "projection"
    }
    tensors["embedding"] = torch.as_tensor(np.ascontiguousarray(state.embedding))
    if state.pca_components is not None:
        tensors["pca_components"] = torch.as_tensor(
            np.ascontiguousarray(state.pca_components), dtype=torch.float64
        )
    # A checksum per tensor: a flipped byte in a weight still reads as a finite number.
    meta["sha256"] = {name: _digest(t) for name, t in sorted(tensors.items())}
    try:
        meta_json = json.dumps(meta)
    except TypeError as err:
        # Name the parameter at fault (encoder_kwargs or metric_kwds holding an array, say).
        culprit = next((k for k, v in params.items() if not _serialisable(v)), "params")
        raise TypeError(f"{culprit}: must be JSON-serialisable to save the model ({err})") from None
    path = _save_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except PermissionError:
        raise PermissionError(
            f"path: cannot write {str(path)!r}: no permission to create files in "
            f"{str(path.parent)!r}"
        ) from None
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={_METADATA_KEY: meta_json})
        # mkstemp creates the file private (0600); a saved model gets the permissions the
        # user's umask gives any new file, as numpy.save's output does.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_target(path: Path) -> Path:
    """The file a save writes: a symlink's target (the link stays), never a read-only file.

    The save renames a new file over the old one, which would replace a link with a
    file and ignore a file's read-only mode; both are what a user would not expect.
    """
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise IsADirectoryError(f"path: {str(path)!r} is a folder; give the model file's path")
    if path.exists() and not path.stat().st_mode & 0o222:
        raise PermissionError(
            f"path: {str(path)!r} is read-only; make it writable (chmod u+w) to replace it, "
            "or save elsewhere"
        )
    return path


def _digest(tensor: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and bytes: what the file's checksum holds."""
    flat = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
    digest = hashlib.sha256(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(flat.numpy().tobytes())
    return digest.hexdigest()


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is put back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_trainer_kwargs(trainer_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable entries of ``trainer_kwargs``; warns about the others.

    How the model was trained (``strategy=DDPStrategy(...)``, say) does not change what
    it computes, so an argument that is a live object is left out rather than failing.
    """
    kept, dropped = {}, []
    for key, value in trainer_kwargs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            dropped.append(key)
        else:
            kept[key] = value
    if dropped:
        warnings.warn(
            f"trainer_kwargs: {dropped} are not JSON-serialisable and are not saved",
            UserWarning,
            stacklevel=3,
        )
    return kept


def _serialisable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _encoder_info(spec: Any, encoder: torch.nn.Module) -> dict[str, Any]:
    """Where the encoder came from: ``source`` ('registry', 'module' or 'factory') and names.

    ``spec`` is the ``encoder`` parameter (None for a registered encoder).
    """
    info: dict[str, Any] = {"class": qualified_name(type(encoder))}
    if spec is None:
        info["source"] = "registry"
    elif isinstance(spec, torch.nn.Module):
        info["source"] = "module"
    else:
        info["source"] = "factory"
        info["factory"] = qualified_name(spec)
    return info


def _read(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise FileNotFoundError(f"path: no model file at {str(path)!r}")
    try:
        # The bytes are read once and parsed from memory: mapping the file (safe_open)
        # opens it twice, and a save by another process in between (an atomic rename)
        # would pair one file's header with another's size.
        data = path.read_bytes()
        tensors = safetensors.torch.load(data)
        header = _header_metadata(data)
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(
            f"path: {str(path)!r} is not a glass_box_umap model file (not safetensors: {err})"
        ) from None
    if _METADATA_KEY not in header:
        raise ValueError(
            f"path: {str(path)!r} is a safetensors file without glass_box_umap metadata"
        )
    try:
        meta = json.loads(header[_METADATA_KEY])
    except json.JSONDecodeError as err:
        raise ValueError(f"path: {str(path)!r} has corrupt metadata ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"path: {str(path)!r} has metadata of an unknown format")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ValueError(f"path: {str(path)!r} has no valid format_version")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"path: {str(path)!r} was written in model format {version} (package "
            f"{meta.get('package_version')}); this package reads up to format {FORMAT_VERSION}. "
            "Upgrade glass_box_umap to load it."
        )
    # A fit never ends with non-finite weights; a file holding them is damaged, and the
    # model would answer every transform with NaN.
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ValueError(
                f"path: {str(path)!r} holds {bad} NaN or infinite value(s) in tensor "
                f"{name!r}; the file is damaged"
            )
    # Files since issue 22 hold a checksum per tensor; older ones load without it.
    checksums = meta.get("sha256")
    if checksums is not None:
        if not isinstance(checksums, dict):
            raise ValueError(f"path: {str(path)!r} has a corrupt checksum table")
        for name, tensor in tensors.items():
            if name in checksums and _digest(tensor) != checksums[name]:
                raise ValueError(
                    f"path: {str(path)!r}: tensor {name!r} does not match its checksum; "
                    "the file is damaged"
                )
    return meta, tensors


def _header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's header (which ``load`` has checked)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _check_encoder_available(path: Path, meta: dict[str, Any]) -> None:
    """Raise, saying what to register or pass, when the saved encoder cannot be rebuilt."""
    info = meta.get("encoder") or {"source": "registry"}
    params = meta.get("params") or {}
    name = params.get("encoder_name")
    cls = info.get("class", "the encoder class")
    if info.get("source") == "registry":
        if isinstance(name, str) and name not in available_encoders():
            short = cls.rsplit(".", 1)[-1]
            raise ValueError(
                f"encoder_name: unknown encoder {name!r}: {str(path)!r} was trained with "
                f"encoder_name={name!r} ({cls}), which is not registered in this session; "
                f"import {cls} and run glass_box_umap.register_encoder({name!r})({short}) "
                "before loading, or pass GlassBoxUMAP.load(path, encoder=...) with a module "
                "of the same architecture"
            )
        return
    given = f"the factory {info['factory']}" if "factory" in info else f"an instance of {cls}"
    raise ValueError(
        f"encoder: {str(path)!r} was trained with encoder= {given}, and a model file holds "
        f"weights, not code; pass GlassBoxUMAP.load(path, encoder=...) with a module of the "
        f"same architecture ({cls}) or the same factory; to load by name instead, make the "
        "architecture a class, register it with glass_box_umap.register_encoder(name) and "
        "refit with encoder_name=name"
    )


def _input_shape(path: Path, meta: dict[str, Any], n_features: int) -> tuple[int, ...]:
    """The per-sample shape (format 1 files are flat: ``(n_features,)``)."""
    shape = meta.get("input_shape", [n_features])
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        or int(np.prod(shape)) != n_features
    ):
        raise ValueError(f"path: {str(path)!r} holds an input shape that does not fit the model")
    return tuple(shape)


def load_model(path: str | Path, encoder: Any = None) -> tuple[dict[str, Any], FittedState]:
    """Read a file written by :func:`save_model`: the saved parameters and the fitted state.

    Parameters
    ----------
    path : str or Path
    encoder : nn.Module, callable or None
        A module of the saved encoder's architecture, or a factory
        ``(input_dims, n_components) -> nn.Module`` building one; required for models
        trained with ``encoder=``, optional otherwise. It is copied (or called), given the
        saved weights, and becomes the ``encoder`` parameter.

    Returns
    -------
    params : dict
        The saved parameters (with ``encoder`` when one was given); the estimator
        checks them all.
    state : FittedState
        ``graph`` is None: files do not hold it.

    Raises
    ------
    ValueError
        If the file is not a model file of a format this package reads, is inconsistent,
        or holds NaN or infinite values (the message names the tensor).
    """
    path = Path(path)
    meta, tensors = _read(path)
    if encoder is None:
        _check_encoder_available(path, meta)
    try:
        params = dict(meta["params"])
        if encoder is not None:
            # The given encoder replaces whatever the file names, so that a refit builds it.
            params.update(encoder=encoder, encoder_name="default", encoder_kwargs={})
        n_features = int(meta["n_features_in"])
        input_shape = _input_shape(path, meta, n_features)
        n_components = check_param("n_components", params["n_components"])
        state = {
            k[len(_ENCODER_PREFIX) :]: v
            for k, v in tensors.items()
            if k.startswith(_ENCODER_PREFIX)
        }
        pca = tensors.get("pca_components")
        input_dims = encoder_input_dims(input_shape, None if pca is None else pca.shape[0])
        if encoder is None:
            built = build_encoder(
                check_param("encoder_name", params["encoder_name"]),
                input_dims,
                n_components,
                check_param("encoder_kwargs", params["encoder_kwargs"]),
            )
            built.load_state_dict(state, strict=True)
        mean = tensors["mean"].numpy()
        scale = float(tensors["scale"]) if "scale" in tensors else 1.0
        if not (scale > 0 and np.isfinite(scale)):
            raise ValueError(f"scale {scale} is not positive")
        embedding = tensors["embedding"].numpy()
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"path: {str(path)!r} holds an inconsistent model ({err})") from None
    if encoder is not None:
        built = make_encoder(encoder, input_dims, n_components)
        try:
            built.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(
                f"encoder: {qualified_name(built)} does not fit the weights saved in "
                f"{str(path)!r} (trained with {meta.get('encoder', {}).get('class')}): {err}"
            ) from None
    if mean.shape != input_shape:
        raise ValueError(
            f"path: {str(path)!r} holds a mean of shape {mean.shape}, expected {input_shape}"
        )
    names = meta.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or len(names) != n_features:
            raise ValueError(f"path: {str(path)!r} holds feature names that do not fit the model")
        names = np.asarray([str(c) for c in names], dtype=object)
    projection = None if pca is None else pca.to(torch.float32)
    return params, FittedState(
        map=GlassBoxMap(built.eval(), mean, projection, scale).eval(),
        pca_components=None if pca is None else pca.numpy(),
        embedding=np.asarray(embedding, dtype=np.float32),
        a=float(meta["a"]),
        b=float(meta["b"]),
        history=meta.get("history", {}),
        best_epoch=meta.get("best_epoch"),
        interrupted=bool(meta.get("interrupted", False)),
        feature_names=names,
    )
