"""Saving and loading fitted models as data only.

A model file is a single safetensors file: tensors (encoder weights, training mean,
PCA axes, training embedding) plus a JSON document in the header's metadata with the
parameters, encoder name and keyword arguments, training history and package version.
Reading it parses JSON and raw arrays; nothing is unpickled or executed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .encoders import build_encoder

if TYPE_CHECKING:
    from .estimator import GlassBoxUMAP

FORMAT_NAME = "glass_box_umap"
FORMAT_VERSION = 1
_METADATA_KEY = "glass_box_umap"
_ENCODER_PREFIX = "encoder."
#: Parameters that hold live objects rather than data; they are not written.
_UNSAVED_PARAMS = ("extra_callbacks",)


def save_model(model: GlassBoxUMAP, path: str | Path) -> None:
    """Write ``model`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    from . import __version__

    path = Path(path)
    params = {k: v for k, v in model.get_params().items() if k not in _UNSAVED_PARAMS}
    if params["checkpoint_dir"] is not None:
        params["checkpoint_dir"] = str(params["checkpoint_dir"])
    params["encoder_kwargs"] = dict(params["encoder_kwargs"])
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "params": params,
        "n_features_in": model.n_features_in_,
        "feature_names_in": (
            None
            if getattr(model, "feature_names_in_", None) is None
            else [str(c) for c in model.feature_names_in_]
        ),
        "a": model.a_,
        "b": model.b_,
        "best_epoch": model.best_epoch_,
        "history": model.history_,
    }
    try:
        meta_json = json.dumps(meta)
    except TypeError as err:
        raise TypeError(
            f"encoder_kwargs: must be JSON-serialisable to save the model ({err})"
        ) from None
    tensors = {
        _ENCODER_PREFIX + k: v.detach().cpu().contiguous()
        for k, v in model.encoder_.state_dict().items()
    }
    tensors["mean"] = torch.as_tensor(np.ascontiguousarray(model.mean_), dtype=torch.float64)
    tensors["embedding"] = torch.as_tensor(np.ascontiguousarray(model.embedding_))
    if model.pca_components_ is not None:
        tensors["pca_components"] = torch.as_tensor(
            np.ascontiguousarray(model.pca_components_), dtype=torch.float64
        )

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={_METADATA_KEY: meta_json})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise FileNotFoundError(f"path: no model file at {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
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
    return meta, tensors


def load_model(path: str | Path) -> GlassBoxUMAP:
    """Rebuild a fitted :class:`GlassBoxUMAP` from a file written by :func:`save_model`."""
    from .estimator import GlassBoxUMAP, _GlassBox

    path = Path(path)
    meta, tensors = _read(path)
    try:
        params = dict(meta["params"])
        n_features = int(meta["n_features_in"])
        model = GlassBoxUMAP(**params)
        p = model._check_params()
        state = {
            k[len(_ENCODER_PREFIX) :]: v
            for k, v in tensors.items()
            if k.startswith(_ENCODER_PREFIX)
        }
        pca = tensors.get("pca_components")
        input_dims = n_features if pca is None else pca.shape[0]
        encoder = build_encoder(
            p["encoder_name"], input_dims, p["n_components"], p["encoder_kwargs"]
        )
        encoder.load_state_dict(state, strict=True)
        mean = tensors["mean"].numpy()
        embedding = tensors["embedding"].numpy()
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"path: {str(path)!r} holds an inconsistent model ({err})") from None
    if mean.shape != (n_features,):
        raise ValueError(
            f"path: {str(path)!r} holds a mean of shape {mean.shape}, expected ({n_features},)"
        )
    encoder.eval()
    model.mean_ = mean
    model.pca_components_ = None if pca is None else pca.numpy()
    model.encoder_ = encoder
    projection = None if pca is None else pca.to(torch.float32)
    model._model = _GlassBox(encoder, projection).eval()
    model.graph_ = None
    model.a_, model.b_ = float(meta["a"]), float(meta["b"])
    model.history_ = meta.get("history", {})
    model.best_epoch_ = meta.get("best_epoch")
    model.n_features_in_ = n_features
    names = meta.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or len(names) != n_features:
            raise ValueError(f"path: {str(path)!r} holds feature names that do not fit the model")
        model.feature_names_in_ = np.asarray([str(c) for c in names], dtype=object)
    model.embedding_ = np.asarray(embedding, dtype=np.float32)
    return model
