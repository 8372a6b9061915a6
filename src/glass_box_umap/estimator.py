"""GlassBoxUMAP: a parametric UMAP whose encoder explains every coordinate exactly.

The story of a fit (:meth:`GlassBoxUMAP.fit`; the stages are in :mod:`.fitting`):

1. check parameters and data (nothing expensive happens before this passes);
2. centre the data on its mean and, optionally, project it on its first principal axes;
3. build UMAP's fuzzy nearest-neighbour graph (neighbours from :mod:`.nearest_neighbors`,
   the fuzzy set from :mod:`.affinity`);
4. train a locally linear encoder with the UMAP loss on weighted edge batches drawn
   on the training device (:mod:`.training`), keeping the lowest-loss weights;
5. commit the fitted map (:mod:`.model`) and embed the training data.

Because the encoder (and the PCA projection before it) is bias-free and piecewise
linear, ``f(x - mean) = J(x) (x - mean)``: the contributions returned by
:meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions` sum exactly to the embedding and explain
where a sample lands *relative to where the mean sample lands* (the origin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from torch import nn

from . import _validation as check
from . import fitting
from .fitting import NEIGHBOUR_NOISE, NOISE_FREE_FRACTION
from .model import FittedState, GlassBoxMap, RawInputMap, dense_rows
from .parameters import check_fit_data, check_landmarks, check_params, python_scalars

if TYPE_CHECKING:
    from lightning.pytorch import Callback


class GlassBoxUMAP(TransformerMixin, BaseEstimator):
    """Parametric UMAP with a locally linear encoder and exact feature contributions.

    Every parameter is a plain attribute: set it at construction or afterwards, and it
    takes effect at the next :meth:`fit`. Parameters are checked when ``fit`` runs.

    Parameters
    ----------
    n_neighbors : int, default 15
        Neighbours per point in the high-dimensional graph, the point itself included.
    min_dist : float, default 0.1
        How tightly points may pack in the embedding, in [0, ``spread``].
    metric : str, default 'euclidean'
        Distance for the nearest-neighbour graph: any metric pynndescent knows
        (``glass_box_umap.nearest_neighbors.ALL_METRICS``, with ``metric_kwds``),
        searched exactly for ``euclidean``, ``sqeuclidean``, ``manhattan``, ``chebyshev``,
        ``minkowski``, ``cosine`` and ``correlation`` up to 20,000 samples
        (``knn_method``). With ``'precomputed'``, ``X`` is a square distance matrix (dense
        or sparse; missing entries are not neighbours): the graph is read off it, and its
        rows are also the encoder's features, so ``transform`` takes distances of new
        samples to the training samples, shape (n_new, n_samples), and contributions are
        per training sample.
    n_components : int, default 2
        Dimension of the embedding.
    negative_sample_rate : int, default 5
        Negative pairs per sampled edge.
    repulsion_strength : float, default 1.0
        Weight of the repulsive term of the loss.
    pca_components : int or None, default None
        If set, inputs are projected on this many principal axes before the encoder.
        Contributions are still reported per original feature.
    encoder_name : str, default 'default'
        Registered encoder (:func:`~glass_box_umap.available_encoders`):
        ``'default'``, a bias-free MLP with PReLU; ``'conv'``, a bias-free CNN for image
        input of shape (n_samples, C, H, W); ``'residual'``, a bias-free residual MLP.
        Add your own with :func:`~glass_box_umap.register_encoder`.
    encoder_kwargs : dict, default {}
        Passed to the encoder, e.g. ``{'hidden_size': 64, 'n_hidden_layers': 1}``.
    lr : float, default 1e-3
        Adam learning rate.
    epochs : int, default 200
        Training length. An epoch draws 120,000 edges
        (``glass_box_umap.training.EPOCH_EDGES``) whatever the size of the data and of
        its graph: ``ceil(120_000 / batch_size)`` steps, 12 at the default batch size, so
        a default fit takes 2,400 Adam steps on 1,000 points as on 1,000,000 (where
        held-out accuracy stopped rising, on digits and on 20,000 noisy digits: README,
        "How good is the map on unseen points"). (For a graph of about 6,000 points, at
        ``n_neighbors=15``, that is one pass over its edges.)
    batch_size : int, default 10_000
        Edges per gradient step (at most the number of edges the graph holds); also
        samples per chunk at inference. Smaller batches give more, noisier steps per
        epoch.
    num_batches : int or None, default None
        Steps per epoch, overriding ``ceil(120_000 / batch_size)``.
    num_workers : int, default 0
        Workers of the step-counting data loader. Batches are built on the training
        device, so workers bring no speed; the parameter exists for API compatibility.
    checkpoint_dir : path or None, default None
        Lightning checkpoints (``checkpoints/``) and TensorBoard event files
        (``tensorboard/``) go here; a temporary directory, deleted after fit, if None.
    restore_best_weights : bool, default True
        End training with the weights of the lowest-loss epoch.
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None, default None
        Seed for weights, sampling and PCA. The same seed gives bit-identical
        embeddings on CPU with the same torch thread count; the global RNG state is
        left untouched either way. A ``RandomState`` or ``Generator`` gives each fit
        a seed drawn from it (advancing it, as scikit-learn's estimators do); a saved
        model records ``None`` for it.
    quiet : bool, default False
        Print nothing at all; otherwise show a progress bar.
    extra_callbacks : list of lightning.pytorch.Callback, default []
        Added to the trainer's callbacks.
    target_weight : float, default 0.5
        With labels (``fit(X, y)``), how strongly they reshape the graph, in [0, 1]:
        umap-learn's categorical ``target_weight``. Unused without ``y``.
    knn_method : {'auto', 'exact', 'pynndescent', 'faiss'}, default 'auto'
        How nearest neighbours are found. ``'exact'``: blocked matrix products on the
        training device, memory-bounded. ``'pynndescent'``: approximate, on the CPU.
        ``'faiss'``: FAISS (the ``faiss`` extra), exact on a GPU or below 20k samples,
        HNSW above; not for ``metric='manhattan'``. ``'auto'``: exact on a GPU or up to
        20k samples, else pynndescent.
    trainer_kwargs : dict or None, default None
        More arguments for ``lightning.pytorch.Trainer``, e.g. ``{'accelerator': 'cpu',
        'devices': 2, 'strategy': 'ddp'}`` or ``{'precision': 'bf16-mixed'}`` (mixed
        precision for training only; contributions are computed in float32/float64).
        They override ``accelerator='auto'`` and ``devices=1``. Arguments that other
        parameters control (``max_epochs``, ``callbacks``, ``enable_progress_bar``,
        ``default_root_dir``, ``logger``, ...) are rejected, naming the parameter to use.
        With several devices each samples its own edges and takes its share of an
        epoch's steps; with ``strategy='ddp'`` every process runs your script and ends
        with the same model (set ``random_state`` so that all build the same graph).
        Saved with the model when JSON-serialisable.
    encoder : nn.Module, callable or None, default None
        Your own encoder without registering it: a module, deep-copied at every
        ``fit`` (so refits start from the same weights and yours is never trained;
        ``random_state`` does not re-initialise it), or a factory called as
        ``encoder(input_dims, n_components)`` (``input_dims``: the number of features, or
        the per-sample shape of N-D input) inside the seeded block. Overrides
        ``encoder_name``, which must then stay ``'default'``, and ``encoder_kwargs``, which
        must stay empty. ``fit`` checks that a custom encoder is exact and warns
        (:class:`~glass_box_umap.exactness.ExactnessWarning`) if not. A saved model
        records the class name only: load it with ``GlassBoxUMAP.load(path, encoder=...)``.
    input_noise : float, default 0.0
        Gaussian noise added to the training inputs at every step, as a fraction of each
        point's mean distance to its graph neighbours (the noise vector is about that
        long); training only, ``transform`` and the contributions stay exact forward
        passes. It teaches the encoder the space around training points, where unseen
        samples land, and so raises the quality of ``transform`` on held-out data (README,
        "How good is the map on unseen points"; ``python benchmarks/generalization.py
        --set input_noise=0.25``).
        Off by default because it is an ambient-space smoothness prior: it keeps a
        manifold rolled up in few dimensions from being unrolled (the swiss roll of
        ``examples/embedding_refinement.py``); ``neighbour_noise`` is the default's
        smoothing along the data instead. Reach for it on high-dimensional data
        (expression, images, embeddings) that you will ``transform`` later.
    neighbour_noise : float, default 0.5
        Noise along the data's own neighbourhoods, at every training step: each encoded
        training point moves by ``neighbour_noise`` times a random Gaussian combination
        of its offsets to four graph neighbours (drawn by edge weight), so the encoder
        learns the space *between* neighbouring training points, where unseen samples
        land, and not across the manifold. Training only; free of the data's units.
        0 turns it off (the map then fits the training points alone). Why 0.5: README,
        "How good is the map on unseen points" (``python benchmarks/generalization.py
        --seeds 5 --set neighbour_noise=...``).
    across_noise : float or 'auto', default 'auto'
        Noise across the data's neighbourhoods, at every training step: each encoded
        training point moves by Gaussian noise of about ``across_noise`` times its mean
        neighbour distance, less its part in the span of the offsets to its
        ``n_neighbors - 1`` heaviest graph neighbours
        (``glass_box_umap.sampling.AcrossNoise``). An unseen sample lies partly off
        its training neighbours' span (on held-out digits, more than half of its offset
        to the nearest training point), where a map trained on the points alone is
        steepest; this noise flattens the map there, so new points land beside their
        neighbours. Training only; free of the data's units. Inputs of at most
        ``n_neighbors - 1`` values (after ``pca_components``) have no such direction and
        get none. ``'auto'``: 1.0 on fits of at least 1,000 optimiser steps (``epochs``
        times the steps per epoch: a default fit takes 2,400 at every size),
        0 on shorter ones, which it costs more training trustworthiness than it gains
        held-out quality. A number is used as given, 0 turns it off. The measurements:
        README, "How good is the map on unseen points" (``python
        benchmarks/generalization.py --seeds 5 --set across_noise=...``).
    noise_free_fraction : float, default 0.1
        Fraction of the epochs, at the end of the fit, trained without any noise
        (``input_noise``, ``neighbour_noise``, ``across_noise``): the last
        ``int(epochs * noise_free_fraction)`` epochs fit the training points themselves,
        which sharpens their layout again (digits, five seeds: training trustworthiness
        0.947 without, 0.966 with, at ``across_noise=1.5``). 0 keeps the noise to the end.
    metric_kwds : dict or None, default None
        Keyword arguments of the metric, e.g. ``{'p': 3}`` for ``minkowski``.
    spread : float, default 1.0
        Scale of the embedded points, with ``min_dist`` (umap-learn's): ``a`` and ``b``
        of the similarity curve are fitted from both (``a_``, ``b_``).
    local_connectivity : float, default 1.0
        Nearest neighbours each point is assumed connected to (umap-learn's meaning;
        fractions interpolate between neighbours).
    set_op_mix_ratio : float, default 1.0
        How the directed memberships are symmetrised: 1 is the fuzzy union, 0 the
        fuzzy intersection (umap-learn's meaning).
    disconnection_distance : float or None, default None
        Neighbours at this distance or farther are cut from the graph; None takes
        umap-learn's default for the metric (2 for cosine and correlation, none for
        euclidean).
    precomputed_knn : tuple (indices, distances) or None, default None
        Neighbours computed elsewhere, umap-learn's argument: two arrays of shape
        (n_samples, >= n_neighbors), each row starting with the sample itself at
        distance 0, sorted by distance. ``fit`` then skips the search. Distances may
        be in any units (the fuzzy graph does not depend on them); computed on the
        encoder inputs (``map_.prepare(X)``) they give the fit's own search's model bit
        for bit, with the same seed. Not saved with the model.
    warm_start : bool, default False
        Continue training from the fitted encoder rather than new weights (the centring
        and PCA axes of the first fit are kept, so the encoder continues the same
        function). The new ``X`` must have the fitted model's features (and names).
    landmark_weight : float, default 1.0
        Weight of the landmark term, with ``fit(X, landmark_positions=P)``: the mean
        squared distance between the landmark samples' embedding and their positions,
        added to each step's loss.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components), float32
        The training data's embedding (with the restored weights).
    mean_ : ndarray of shape input_shape\\_, float64
        Training mean (per feature, or per element of N-D samples), subtracted before the
        encoder; the mean sample embeds at 0.
    input_scale_ : float
        Root mean square of the centred (and projected) training inputs; the encoder
        reads them divided by it, so that the map does not depend on the units of
        ``X``: ``fit(c * X)`` gives the embedding of ``fit(X)`` for any ``c > 0`` (bit for
        bit for powers of two, without PCA). About 1 for standardised features.
    pca_components_ : ndarray of shape (pca_components, n_features) or None
    map_ : glass_box_umap.model.GlassBoxMap
        The fitted map (centring, PCA projection, encoder) that ``transform``,
        ``compute_contributions`` and ``save`` use; on CPU, in eval mode.
    encoder_ : nn.Module
        The trained encoder, ``map_.encoder``.
    graph_ : glass_box_umap.affinity.EdgeList or None
        The fuzzy graph trained on (None for a loaded model).
    a_, b_ : float
        Embedding similarity curve ``1 / (1 + a d^(2b))`` fitted from ``min_dist``.
    history_ : dict of lists
        Per-epoch ``epoch``, ``loss``, ``attraction``, ``repulsion``, ``time``, ``lr``.
    best_epoch_ : int or None
        The epoch whose weights were restored.
    interrupted_ : bool
        Whether the fit was stopped by ``KeyboardInterrupt`` (False for a loaded model
        saved by a version that did not record it).
    n_features_in_ : int
        Number of values per sample (the product of ``input_shape_``).
    input_shape_ : tuple of int
        Shape of one sample: ``(n_features,)`` for tabular data, ``(C, H, W)`` for
        images. X of shape (n_samples, \\*input_shape\\_) is expected by transform.
    feature_names_in_ : ndarray of shape (n_features_in\\_,), object
        Column names, when ``X`` was a DataFrame with string column names. Later
        DataFrames must have the same columns; explanation helpers name features by it.
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        n_components: int = 2,
        negative_sample_rate: int = 5,
        repulsion_strength: float = 1.0,
        pca_components: int | None = None,
        encoder_name: str = "default",
        encoder_kwargs: dict[str, Any] = {},  # noqa: B006 - documented default, never mutated
        lr: float = 1e-3,
        epochs: int = 200,
        batch_size: int = 10_000,
        num_batches: int | None = None,
        num_workers: int = 0,
        checkpoint_dir: Path | str | None = None,
        restore_best_weights: bool = True,
        random_state: int | None = None,
        quiet: bool = False,
        extra_callbacks: list[Callback] = [],  # noqa: B006 - documented default, never mutated
        target_weight: float = 0.5,
        knn_method: str = "auto",
        trainer_kwargs: dict[str, Any] | None = None,
        encoder: nn.Module | Callable[..., nn.Module] | None = None,
        input_noise: float = 0.0,
        neighbour_noise: float = NEIGHBOUR_NOISE,
        across_noise: float | str = "auto",
        noise_free_fraction: float = NOISE_FREE_FRACTION,
        metric_kwds: dict[str, Any] | None = None,
        spread: float = 1.0,
        local_connectivity: float = 1.0,
        set_op_mix_ratio: float = 1.0,
        disconnection_distance: float | None = None,
        precomputed_knn: tuple[Any, ...] | None = None,
        warm_start: bool = False,
        landmark_weight: float = 1.0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_components = n_components
        self.negative_sample_rate = negative_sample_rate
        self.repulsion_strength = repulsion_strength
        self.pca_components = pca_components
        self.encoder_name = encoder_name
        self.encoder_kwargs = encoder_kwargs
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.num_workers = num_workers
        self.checkpoint_dir = checkpoint_dir
        self.restore_best_weights = restore_best_weights
        self.random_state = random_state
        self.quiet = quiet
        self.extra_callbacks = extra_callbacks
        self.target_weight = target_weight
        self.knn_method = knn_method
        self.trainer_kwargs = trainer_kwargs
        self.encoder = encoder
        self.input_noise = input_noise
        self.neighbour_noise = neighbour_noise
        self.across_noise = across_noise
        self.noise_free_fraction = noise_free_fraction
        self.metric_kwds = metric_kwds
        self.spread = spread
        self.local_connectivity = local_connectivity
        self.set_op_mix_ratio = set_op_mix_ratio
        self.disconnection_distance = disconnection_distance
        self.precomputed_knn = precomputed_knn
        self.warm_start = warm_start
        self.landmark_weight = landmark_weight

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # transform returns float32 whatever the input precision.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.target_tags.required = False
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> dict[str, Any]:
        """Validated copies of all parameters (:func:`~glass_box_umap.parameters.check_params`)."""
        return check_params(self.get_params(deep=False))

    def _check_fitted(self) -> None:
        if not hasattr(self, "map_"):
            raise ValueError(
                "This GlassBoxUMAP instance is not fitted yet: call fit(X) before using it."
            )

    def _check_transform_input(self, X: Any) -> np.ndarray:
        self._check_fitted()
        check.check_feature_names(getattr(self, "feature_names_in_", None), X)
        return self.map_.check_input(X, owner="GlassBoxUMAP")

    def _inference_batch(self) -> int:
        """Samples per inference chunk: ``batch_size`` (set after fit, it may be anything)."""
        ok = isinstance(self.batch_size, int) and not isinstance(self.batch_size, bool)
        return self.batch_size if ok and self.batch_size > 0 else 10_000

    # ------------------------------------------------------------------ fit
    def fit(
        self, X: Any, y: Any = None, *, landmark_positions: Any = None, graph: Any = None
    ) -> GlassBoxUMAP:
        """Learn the graph of ``X`` and train the encoder on it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape)
            Float or integer data: numpy, torch or pandas. N-D arrays or tensors (images
            of shape (n_samples, C, H, W), say) go to the encoder with their shape (use
            ``encoder_name='conv'``); the neighbour graph uses the flattened samples.
        y : array-like of shape (n_samples,), optional
            Class labels for supervised UMAP (``-1`` = unlabelled): edges between
            classes are weakened as umap-learn does, by ``target_weight``.
        landmark_positions : array-like of shape (n_samples, n_components), optional
            Where some samples should stay: a row of coordinates for each landmark, a
            row of NaN for each free sample. The training loss gains ``landmark_weight``
            times the landmarks' mean squared distance to these positions. Typical use:
            refit on old + new data with ``warm_start=True`` and the old samples'
            embedding as their positions, so that the layout (and so the explanations)
            stay comparable across data releases.
        graph : array-like or sparse matrix of shape (n_samples, n_samples), optional
            A fuzzy graph built elsewhere (symmetric weights in [0, 1], for instance the
            ``connectivities`` scanpy computed), embedded instead of building one from
            ``X``; ``X`` is still what the encoder reads.

        Returns
        -------
        self
            The fitted estimator (``embedding_``, ``map_``, ``graph_``, ``history_`` set).

        Notes
        -----
        A fit stopped by ``KeyboardInterrupt`` (Ctrl-C, or raised by a callback) keeps
        the weights trained so far (the best epoch's, with ``restore_best_weights``),
        warns, and returns a usable model; ``interrupted_`` is then True.
        """
        # Lightning (training) and the label code take seconds to import; only fit needs them.
        from .supervised import label_codes
        from .training import check_trainer_kwargs

        p = self._check_params()
        names = check.feature_names(X)
        X, input_shape = check.check_samples(X)
        codes = None if y is None else label_codes(y, X.shape[0])
        check_fit_data(X, input_shape, p)
        landmarks = check_landmarks(landmark_positions, X.shape[0], p["n_components"])
        known = fitting.known_graph(X.shape[0], graph, p)
        previous = self._previous_map(p, input_shape, names)
        trainer_kwargs = check_trainer_kwargs(p["trainer_kwargs"])
        seeds = fitting.Seeds.draw(p["random_state"])
        map_, pca_components, inputs = fitting.prepare_map(X, input_shape, p, seeds, previous)
        edges, a, b = fitting.fuzzy_graph(X, inputs, codes, p, seeds.graph, trainer_kwargs, known)
        history, best_epoch, interrupted = fitting.train_map(
            map_, inputs, edges, p, trainer_kwargs, a=a, b=b, seeds=seeds, landmarks=landmarks
        )
        # Commit only now, so that a failed fit leaves a previous model intact.
        self._commit(
            FittedState(
                map=map_,
                pca_components=pca_components,
                embedding=map_.embed(X, self._inference_batch()),
                a=a,
                b=b,
                history=history,
                best_epoch=best_epoch,
                interrupted=interrupted,
                feature_names=names,
                graph=edges,
            )
        )
        return self

    def _commit(self, state: FittedState) -> None:
        """Set every fitted attribute from ``state``: the one place ``fit`` and ``load`` share."""
        self.map_ = state.map.eval()
        self.encoder_ = state.map.encoder
        self.mean_ = state.map.mean.numpy()
        self.input_scale_ = float(state.map.scale)
        self.pca_components_ = state.pca_components
        self.embedding_ = np.asarray(state.embedding, dtype=np.float32)
        self.graph_ = state.graph
        self.a_, self.b_ = float(state.a), float(state.b)
        self.history_ = state.history
        self.best_epoch_ = state.best_epoch
        self.interrupted_ = state.interrupted
        self.input_shape_ = state.map.input_shape
        self.n_features_in_ = int(np.prod(self.input_shape_))
        if state.feature_names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = state.feature_names

    def _previous_map(
        self, p: Mapping[str, Any], input_shape: tuple[int, ...], names: Any
    ) -> tuple[GlassBoxMap, np.ndarray | None] | None:
        """With ``warm_start``, the fitted map and PCA axes to continue from, once checked."""
        if not p["warm_start"] or not hasattr(self, "map_"):
            return None
        if input_shape != self.input_shape_:
            raise ValueError(
                f"warm_start: X has samples of shape {input_shape}, the fitted model "
                f"{self.input_shape_}; set warm_start=False to fit a new model"
            )
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError(
                "warm_start: X's columns differ from those the model was fitted on; set "
                "warm_start=False to fit a new model"
            )
        return self.map_, self.pca_components_

    def _fitted_state(self) -> FittedState:
        return FittedState(
            map=self.map_,
            pca_components=self.pca_components_,
            embedding=self.embedding_,
            a=self.a_,
            b=self.b_,
            history=self.history_,
            best_epoch=self.best_epoch_,
            interrupted=self.interrupted_,
            feature_names=getattr(self, "feature_names_in_", None),
            graph=self.graph_,
        )

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit on ``X`` and return the embedding of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape)
            Training data, as :meth:`fit` takes it.
        y : array-like of shape (n_samples,), optional
            Class labels for a supervised fit (``-1``: unlabelled), as in :meth:`fit`.
        **fit_params
            The other keyword arguments of :meth:`fit` (``graph``, ``landmark_positions``).

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_components), float32
            ``embedding_``, the embedding of ``X`` by the fitted map.
        """
        return self.fit(X, y, **fit_params).embedding_

    # ------------------------------------------------------------------ inference
    def transform(self, X: Any) -> np.ndarray:
        """Embed new data with the trained encoder (a pure forward pass).

        Parameters
        ----------
        X : array-like of shape (n_samples, \\*input_shape\\_)
            Samples with the features (and shape) the model was fitted on; a DataFrame's
            columns must be ``feature_names_in_``, in that order (an error names the
            missing, unexpected or reordered ones).

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_components), float32
            Where the encoder places each sample; ``transform(X)[idx]`` equals
            ``transform(X[idx])`` bit for bit on the CPU.
        """
        X = self._check_transform_input(X)
        return self.map_.embed(X, self._inference_batch())

    def compute_contributions(
        self,
        X: Any,
        reduction: str | None = None,
        dtype: str | torch.dtype = "float32",
        baseline: Any = None,
        max_steps: int = 20_000,
    ) -> np.ndarray:
        """Exact per-feature contributions to each embedding coordinate.

        ``C[i, k, j] = J(x_i)[k, j] * (x_i - mean_)[j]`` where ``J`` is the Jacobian of
        the whole map (PCA projection included) at sample ``i``. Because the map is
        locally linear without offsets, ``C[i, k, :].sum() == transform(X)[i, k]``:
        contributions explain how a sample's position differs from where the mean
        training sample lands (the origin of the embedding).

        With a ``baseline`` ``r``, they explain ``transform(X) - transform(r)`` instead,
        exactly: ``C[i, k, j] = (x_ij - r_j) * integral_0^1 J(r + t (x_i - r))[k, j] dt``,
        the integral summed over the linear pieces the straight path from ``r`` to ``x_i``
        crosses (:func:`glass_box_umap.paths.path_contributions`: integrated gradients
        without approximation). A feature equal in ``x_i`` and ``r`` gets exactly 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, \\*input_shape\\_)
            Samples to explain, as for :meth:`transform`.
        reduction : {None, 'l2'}
            ``None`` returns the signed contributions; ``'l2'`` their Euclidean norm over
            embedding axes, one magnitude per feature.
        dtype : {'float32', 'float64'}
            Precision of the evaluation. In float64 the contributions sum to the
            float64 forward pass to about 1e-12 relative.
        baseline : None, 'mean', or array-like of shape input_shape\\_ or like X
            The reference the contributions are relative to: None or ``'mean'`` (the
            training mean, which lands at the origin: the same numbers), one sample (a
            control, a cluster's centroid), or one reference per sample. Paths cost
            more than the contributions relative to the mean: a few milliseconds per
            sample and crossed piece on a CPU.
        max_steps : int, default 20_000
            With a ``baseline``: the probes the walk may spend on one path (about one
            per linear piece it crosses) before it stops with an error naming it. An
            encoder with a smooth function hidden in its ``forward`` (``F.gelu``) needs
            ever more; the walk warns, naming the encoder, whenever the summed
            contributions miss the difference of the embeddings.

        Returns
        -------
        contributions : ndarray
            Shape (n_samples, n_components, \\*input_shape\\_), or (n_samples, \\*input_shape\\_)
            for ``reduction='l2'``, in the requested dtype. For images, one contribution
            map per embedding axis: (n_samples, n_components, C, H, W).
        """
        if reduction not in (None, "l2"):
            raise ValueError(f"reduction: expected None or 'l2', got {reduction!r}")
        torch_dtype = check.resolve_dtype(dtype)
        if (
            isinstance(max_steps, bool)
            or not isinstance(max_steps, (int, np.integer))
            or (max_steps < 1)
        ):
            raise ValueError(f"max_steps: expected an integer >= 1, got {max_steps!r}")
        X = self._check_transform_input(X)
        if baseline is None or (isinstance(baseline, str) and baseline == "mean"):
            return self.map_.contributions(X, torch_dtype, reduction, self._inference_batch())
        return self._path_contributions(X, baseline, torch_dtype, reduction, int(max_steps))

    def _path_contributions(
        self,
        X: Any,
        baseline: Any,
        dtype: torch.dtype,
        reduction: str | None,
        max_steps: int,
    ) -> np.ndarray:
        """Contributions relative to ``baseline`` along straight paths of raw samples.

        :func:`~glass_box_umap.paths.path_contributions` checks ``baseline`` (shape,
        finite values), centres samples and baseline in float64 and walks the centred
        map (given a ``RawInputMap``).
        """
        from .paths import path_contributions

        if isinstance(baseline, str):
            raise ValueError(f"baseline: expected None, 'mean' or an array, got {baseline!r}")
        samples = dense_rows(X).reshape(-1, *self.input_shape_)
        C, _ = path_contributions(
            RawInputMap(self.map_), samples, baseline, dtype=dtype, max_steps=max_steps
        )
        return np.linalg.norm(C, axis=1) if reduction == "l2" else C

    def compute_jacobian(self, X: Any, dtype: str | torch.dtype = "float32") -> np.ndarray:
        """Jacobians of the whole map (PCA projection included) at each sample.

        ``compute_contributions(X)[i] == J[i] * (X[i] - mean_)`` row by row: the
        contributions are these matrices times the centred sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, \\*input_shape\\_)
            Samples at which to evaluate the Jacobian, as for :meth:`transform`.
        dtype : {'float32', 'float64'}
            Precision of the evaluation (and of the result).

        Returns
        -------
        jacobian : ndarray of shape (n_samples, n_components, \\*input_shape_)
            ``J[i, k, j]``: the derivative of embedding coordinate ``k`` with respect to
            raw feature ``j`` at sample ``i``, the input scale and PCA projection included.
        """
        torch_dtype = check.resolve_dtype(dtype)
        X = self._check_transform_input(X)
        return self.map_.compute_jacobian(X, torch_dtype, self._inference_batch())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the embedding axes: ``glassboxumap0, glassboxumap1, ...``.

        Parameters
        ----------
        input_features : ignored
            Accepted for scikit-learn's API (checked against the fitted names if given).

        Returns
        -------
        ndarray of shape (n_components,), object
            ``'glassboxumap0'``, ``'glassboxumap1'``, ...: the columns the command line and
            :meth:`contributions_frame` use.
        """
        self._check_fitted()
        if input_features is not None:
            names = getattr(self, "feature_names_in_", None)
            if names is not None and list(input_features) != list(names):
                raise ValueError("input_features: differ from feature_names_in_")
        n_components = self.embedding_.shape[1]
        return np.asarray([f"glassboxumap{k}" for k in range(n_components)], dtype=object)

    def contributions_frame(self, X: Any, dtype: str | torch.dtype = "float32") -> Any:
        """:meth:`compute_contributions` as a tidy, feature-named pandas DataFrame.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A DataFrame's index becomes the ``sample`` column.
        dtype : {'float32', 'float64'}

        Returns
        -------
        pandas.DataFrame
            Columns ``sample``, ``component`` (numbered from 0), ``feature``, ``contribution``;
            see :func:`glass_box_umap.contributions_frame`.
        """
        from .explain import contributions_frame

        samples = X.index.to_numpy() if hasattr(X, "index") and hasattr(X, "columns") else None
        names = getattr(self, "feature_names_in_", None)
        return contributions_frame(
            self.compute_contributions(X, dtype=dtype), feature_names=names, samples=samples
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path`` (a safetensors file: weights + JSON metadata).

        Atomic: a new file renamed over the old one. A symlink is followed (the file it
        points to is replaced); a read-only file, a folder, or a folder this process
        cannot write in raise an OSError naming ``path``.

        Parameters
        ----------
        path : str or Path
            The file to write; :meth:`load` reads it back.
        """
        from .persistence import save_model

        self._check_fitted()
        save_model(path, python_scalars(self.get_params(deep=False)), self._fitted_state())

    @classmethod
    def load(
        cls, path: str | Path, encoder: nn.Module | Callable[..., nn.Module] | None = None
    ) -> GlassBoxUMAP:
        """Read a model written by :meth:`save`; nothing in the file is executed.

        Parameters
        ----------
        path : str or Path
            A file written by :meth:`save` (any model file format, 1 to 3).
        encoder : nn.Module, callable or None
            Needed for a model trained with ``encoder=`` (a file holds weights, not
            code): a module of the same architecture, or the factory used at fit. Its
            weights are replaced by the saved ones; it becomes the ``encoder`` parameter.

        Returns
        -------
        GlassBoxUMAP
            A fitted estimator whose ``transform`` and ``compute_contributions`` reproduce
            the saved model's bit for bit.
        """
        from .persistence import load_model

        params, state = load_model(path, encoder=encoder)
        try:
            model = cls(**params)
        except TypeError as err:
            raise ValueError(f"path: {str(path)!r} holds an inconsistent model ({err})") from None
        model._check_params()
        model._commit(state)
        return model


__all__ = ["GlassBoxUMAP"]
