"""The stages of a fit, in the order ``GlassBoxUMAP.fit`` runs them.

1. :class:`Seeds`: every seed of the fit, drawn from ``random_state``;
2. :func:`prepare_map`: the untrained map (a new encoder, or the fitted one with
   ``warm_start``; the training mean; PCA axes; the input scale) and the encoder inputs;
3. :func:`fuzzy_graph`: UMAP's fuzzy nearest-neighbour graph (neighbours from
   :mod:`.nearest_neighbors`, the fuzzy set from :mod:`.affinity`), or a given one
   (:func:`known_graph` checks it before any work), and the curve's ``a, b``;
4. :func:`train_map`: the encoder trained with the UMAP loss on weighted edge batches
   drawn on the training device (:mod:`.training`), keeping the lowest-loss weights.

Each takes the checked parameters ``p`` (:func:`glass_box_umap.parameters.check_params`)
and returns what the next one needs; the estimator commits the result only when all ran.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import torch
from torch import nn

from .affinity import EdgeList, build_graph, check_graph
from .encoders import SHIPPED_ENCODERS, build_encoder, make_encoder
from .exactness import warn_if_inexact
from .model import GlassBoxMap, encoder_input_dims, input_scale
from .nearest_neighbors import check_precomputed_knn


@dataclass(frozen=True)
class Seeds:
    """The seeds of one fit, all drawn from ``random_state`` (or fresh entropy)."""

    graph: int
    init: int
    sample: int
    pca: int

    @classmethod
    def draw(cls, random_state: int | None) -> Seeds:
        seed = random_state if random_state is not None else secrets.randbits(62)
        init, sample, pca = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
        return cls(graph=seed, init=init, sample=sample % 2**62, pca=pca)


def prepare_map(
    X: Any,
    input_shape: tuple[int, ...],
    p: Mapping[str, Any],
    seeds: Seeds,
    previous: tuple[GlassBoxMap, np.ndarray | None] | None = None,
) -> tuple[GlassBoxMap, np.ndarray | None, torch.Tensor]:
    """The untrained map (a new, seeded encoder; the mean; PCA axes if asked; the input
    scale), its PCA axes, and the encoder inputs of ``X``. A custom encoder is checked for
    exactness here. With ``previous`` (warm start), the encoder starts from its weights
    and the map keeps its centring, PCA axes and scale."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeds.init)
        input_dims = encoder_input_dims(input_shape, p["pca_components"])
        if p["encoder"] is None:
            encoder = build_encoder(
                p["encoder_name"], input_dims, p["n_components"], p["encoder_kwargs"]
            )
        else:
            encoder = make_encoder(p["encoder"], input_dims, p["n_components"])
    if previous is not None:
        return continue_map(encoder, *previous, X, p)
    mean = np.asarray(X.mean(axis=0), dtype=np.float64).reshape(input_shape)
    components = None
    if p["pca_components"] is not None:
        from sklearn.decomposition import PCA

        # PCA centres by itself; on sparse input it does so without densifying.
        solver = "covariance_eigh" if scipy.sparse.issparse(X) else "auto"
        pca = PCA(p["pca_components"], svd_solver=solver, random_state=seeds.pca)
        components = pca.fit(X).components_
    projection = None if components is None else torch.as_tensor(components, dtype=torch.float32)
    map_ = GlassBoxMap(encoder, mean, projection)
    inputs = map_.prepare(X)
    # The graph is built on the scaled inputs (it does not depend on their units, and
    # scaled they cannot overflow its squared distances); see model.input_scale.
    scale = input_scale(inputs)
    map_.scale.fill_(scale)
    inputs /= map_.scale.to(torch.float32)
    if p["encoder"] is not None or p["encoder_name"] not in SHIPPED_ENCODERS:
        param = "encoder" if p["encoder"] is not None else "encoder_name"
        warn_if_inexact(encoder, inputs, p["n_components"], param)
    return map_, components, inputs


def continue_map(
    encoder: nn.Module,
    previous: GlassBoxMap,
    components: np.ndarray | None,
    X: Any,
    p: Mapping[str, Any],
) -> tuple[GlassBoxMap, np.ndarray | None, torch.Tensor]:
    """The warm start of :func:`prepare_map`: ``encoder`` given the fitted weights."""
    n_projected = None if components is None else components.shape[0]
    if p["pca_components"] != n_projected:
        raise ValueError(
            f"warm_start: pca_components={p['pca_components']}, but the fitted model "
            f"projects on {n_projected}; set warm_start=False to fit a new model"
        )
    try:
        encoder.load_state_dict(previous.encoder.state_dict())
    except RuntimeError as err:
        raise ValueError(
            "warm_start: the fitted encoder does not fit the current encoder parameters "
            f"(encoder_name, encoder_kwargs, encoder, n_components): {err}"
        ) from None
    map_ = GlassBoxMap(encoder, previous.mean.numpy(), previous.projection, float(previous.scale))
    return map_, components, map_.prepare(X)


def known_graph(n_samples: int, graph: Any, p: dict[str, Any]) -> Any:
    """A given fuzzy graph, checked (None without one); checks ``precomputed_knn`` in ``p``."""
    if graph is not None:
        if p["precomputed_knn"] is not None or p["metric"] == "precomputed":
            raise ValueError(
                "graph: given, so precomputed_knn and metric='precomputed' would be ignored; "
                "leave them at their defaults"
            )
        return check_graph(graph, n_samples)
    if p["precomputed_knn"] is not None:
        p["precomputed_knn"] = check_precomputed_knn(
            p["precomputed_knn"], n_samples, p["n_neighbors"]
        )
    return None


def fuzzy_graph(
    X: Any,
    inputs: torch.Tensor,
    codes: np.ndarray | None,
    p: Mapping[str, Any],
    seed: int,
    trainer_kwargs: Mapping[str, Any],
    known: Any = None,
) -> tuple[EdgeList, float, float]:
    """UMAP's fuzzy graph (reshaped by labels, if any), and ``a, b``.

    Built from the encoder inputs, from ``X`` itself with ``metric='precomputed'`` (the
    distances), from ``precomputed_knn``, or given (``known``, checked).
    """
    from .loss import find_ab_params  # scipy.optimize: imported by fits only
    from .supervised import intersect_with_labels
    from .training import training_device

    if known is not None:
        edges = EdgeList.from_sparse(known)
    else:
        edges = build_graph(
            X if p["metric"] == "precomputed" else inputs.flatten(1).numpy(),
            p["n_neighbors"],
            p["metric"],
            seed,
            training_device(trainer_kwargs),
            p["knn_method"],
            metric_kwds=p["metric_kwds"],
            local_connectivity=p["local_connectivity"],
            set_op_mix_ratio=p["set_op_mix_ratio"],
            disconnection_distance=p["disconnection_distance"],
            precomputed_knn=p["precomputed_knn"],
        )
    if codes is not None:
        edges = intersect_with_labels(edges, codes, p["target_weight"])
    a, b = find_ab_params(p["spread"], p["min_dist"])
    return edges, a, b


#: Default ``neighbour_noise``: see :class:`glass_box_umap.sampling.NeighbourNoise` and the
#: README's "How good is the map on unseen points" for the measurements behind it.
NEIGHBOUR_NOISE = 0.5
#: Default ``noise_free_fraction``: the last tenth of the epochs trains on the bare points.
NOISE_FREE_FRACTION = 0.1
#: ``across_noise='auto'`` (the default): this strength on fits of at least
#: :data:`ACROSS_MIN_STEPS` optimiser steps, none on shorter ones. See
#: :class:`glass_box_umap.sampling.AcrossNoise` and the README for the measurements
#: (1.0 against 1.5 at the default 2,400 steps: held-out digits accuracy higher in all
#: four five-seed runs, by 0.002-0.009).
ACROSS_NOISE = 1.0
#: Steps a fit needs before ``across_noise='auto'`` draws the noise: shorter fits lose
#: more training trustworthiness to it than their held-out maps gain.
ACROSS_MIN_STEPS = 1_000


def across_strength(across_noise: float | str, steps: int) -> float:
    """The ``across_noise`` a fit of ``steps`` optimiser steps trains with.

    Parameters
    ----------
    across_noise : float or 'auto'
    steps : int
        ``epochs * steps_per_epoch``.

    Returns
    -------
    float
        ``across_noise`` when given as a number; for ``'auto'``, :data:`ACROSS_NOISE` on
        fits of at least :data:`ACROSS_MIN_STEPS` steps and 0 on shorter ones.
    """
    if across_noise != "auto":
        return float(across_noise)
    return ACROSS_NOISE if steps >= ACROSS_MIN_STEPS else 0.0


def train_map(
    map_: GlassBoxMap,
    inputs: torch.Tensor,
    edges: EdgeList,
    p: Mapping[str, Any],
    trainer_kwargs: dict[str, Any],
    *,
    a: float,
    b: float,
    seeds: Seeds,
    landmarks: np.ndarray | None = None,
) -> tuple[dict[str, list[float]], int | None, bool]:
    """Train ``map_.encoder`` in place; the history, best epoch and whether it was interrupted."""
    from .training import TrainingConfig, UMAPModule, checkpoint_directory, steps_per_epoch, train

    steps = steps_per_epoch(p["batch_size"], p["num_batches"])
    config = TrainingConfig(
        a=a,
        b=b,
        seed=seeds.sample,
        steps_per_epoch=steps,
        epochs=p["epochs"],
        negative_sample_rate=p["negative_sample_rate"],
        repulsion_strength=p["repulsion_strength"],
        lr=p["lr"],
        batch_size=p["batch_size"],
        num_workers=p["num_workers"],
        input_noise=p["input_noise"],
        neighbour_noise=p["neighbour_noise"],
        across_noise=across_strength(p["across_noise"], p["epochs"] * steps),
        # A point's graph neighbours, itself excluded: the k-NN graph's own span.
        across_rank=max(1, p["n_neighbors"] - 1),
        noise_free_epochs=int(p["epochs"] * p["noise_free_fraction"]),
        batch_rms=True,
        landmark_weight=p["landmark_weight"],
        quiet=p["quiet"],
        restore_best_weights=p["restore_best_weights"],
        extra_callbacks=tuple(p["extra_callbacks"]),
        trainer_kwargs=trainer_kwargs,
    )
    # Training may draw from the global generators (dropout, say): fork, not clobber.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seeds.init)
        module = UMAPModule(
            map_.encoder,
            inputs,
            edges,
            config=config,
            input_transform=map_.prepare,
            landmarks=landmarks,
        )
        with checkpoint_directory(p["checkpoint_dir"]) as checkpoint_dir:
            history, best_epoch = train(module, checkpoint_dir)
    if module.interrupted:
        kept = "the last weights" if best_epoch is None else f"the weights of epoch {best_epoch}"
        warnings.warn(
            f"fit interrupted after {len(history['loss'])} of {p['epochs']} epochs; the "
            f"model keeps {kept}",
            RuntimeWarning,
            stacklevel=3,
        )
    map_.encoder.cpu().eval()
    if not all(torch.isfinite(t).all() for t in map_.encoder.state_dict().values()):
        raise FloatingPointError(
            "training diverged: the encoder weights are not finite; try a lower lr"
        )
    return history, best_epoch, module.interrupted


__all__ = ["Seeds", "continue_map", "fuzzy_graph", "known_graph", "prepare_map", "train_map"]
