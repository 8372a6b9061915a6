"""Batches of weighted edges and negative samples, drawn on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .affinity import EdgeList

#: How a sampler chooses the rows to encode each step; see :class:`EdgeSampler`.


@dataclass
class EdgeBatch:
    """One training step's worth of pairs, as positions into the encoded rows.

    Attributes
    ----------
    vertices : LongTensor of shape (n_encoded,) or None
        The data rows to encode this step; ``None`` means every row, in order.
    head, tail : LongTensor of shape (batch_size,)
        Positions in the encoded rows of the ends of each sampled edge.
    negatives : LongTensor of shape (batch_size, negative_sample_rate)
        Positions in the encoded rows of the points each head is pushed away from.
    """

    vertices: torch.Tensor | None
    head: torch.Tensor
    tail: torch.Tensor
    negatives: torch.Tensor

    def inputs(self, data: torch.Tensor) -> torch.Tensor:
        """The encoder inputs of this step: ``data`` itself, or its rows at ``vertices``.

        Parameters
        ----------
        data : Tensor of shape (n_vertices, \\*input_shape)

        Returns
        -------
        Tensor of shape (n_encoded, \\*input_shape)
        """
        # index_select, not fancy indexing: its backward (index_add) is several times
        # faster on CPU than the accumulate-put that x[idx] differentiates into.
        return data if self.vertices is None else data.index_select(0, self.vertices)


class EdgeSampler:
    """Draws edges with probability proportional to their fuzzy weight.

    UMAP visits an edge of weight ``w`` ``w / max(w)`` times as often as the strongest
    edge; sampling i.i.d. in proportion to ``w`` gives every step the same expected
    gradient. A whole batch is drawn at once from Walker alias tables
    (:func:`alias_tables`), two gathers per edge.

    Negatives pair the head of each edge with rows drawn uniformly from the rows
    encoded this step, so they need no forward pass of their own. Which rows are
    encoded is the sampler's ``mode``:

    ``'all'``
        Every vertex, when there are no more of them than a step would encode anyway
        (``batch_size``, or ``2 * batch_size`` with static shapes). Negatives are then
        uniform over all points, as in umap-learn.
    ``'unique'``
        The distinct ends of the batch's edges (``torch.unique``), each encoded once.
    ``'ends'``
        Both ends of every edge, ``2 * batch_size`` rows, duplicates included: every
        tensor has a fixed shape, so a step queues on a GPU without waiting for the
        device (``torch.unique`` must, to size its output) and can be captured in a CUDA
        graph. Negatives are drawn from the same rows, which favours points by degree.

    ``static_shapes`` picks ``'ends'`` over ``'unique'``; by default it is on for CUDA
    devices only. On the CPU, where a step is compute-bound, ``'unique'`` is the faster:
    a batch's distinct ends are fewer than its ``2 * batch_size`` ends, and encoding
    fewer rows outweighs the cost of ``torch.unique``
    (``python benchmarks/sampling_modes.py --step-time`` measures both).

    Parameters
    ----------
    edges : EdgeList
    batch_size : int
        Edges per step.
    negative_sample_rate : int
        Negative pairs per edge.
    device : torch.device
    generator : torch.Generator
        On ``device``; the only source of randomness.
    static_shapes : bool, optional
        Encode fixed-size batches (``'ends'``) rather than distinct vertices
        (``'unique'``). Default: whether ``device`` is a CUDA device.

    Notes
    -----
    Memory on ``device``: the edge list and its alias tables (three int64 and one
    float64 value per directed edge, 32 bytes) and, per step, tensors of ``batch_size``
    edges; nothing the size of an epoch is ever drawn.
    """

    def __init__(
        self,
        edges: EdgeList,
        batch_size: int,
        negative_sample_rate: int,
        device: torch.device,
        generator: torch.Generator,
        static_shapes: bool | None = None,
    ) -> None:
        device = torch.device(device)
        self.head = torch.as_tensor(edges.head, device=device)
        self.tail = torch.as_tensor(edges.tail, device=device)
        self.n_edges = len(edges.head)
        weight = torch.as_tensor(edges.weight, dtype=torch.float64, device=device)
        self._prob, self._alias = alias_tables(weight, torch.tensor([self.n_edges], device=device))
        self.n_vertices = edges.n_vertices
        self.batch_size = batch_size
        self.negative_sample_rate = negative_sample_rate
        self.device = device
        self.generator = generator
        self.static_shapes = device.type == "cuda" if static_shapes is None else static_shapes
        rows_per_step = 2 * batch_size if self.static_shapes else batch_size
        if self.n_vertices <= rows_per_step:
            # A batch of B edges touches about 1 - exp(-2B/n) of n vertices, 86% or more
            # here, and encoding them all costs no more than encoding the batch's ends.
            self.mode = "all"
        else:
            self.mode = "ends" if self.static_shapes else "unique"
        # Positions of heads and tails among the encoded rows in 'ends' mode: fixed.
        self._ends = torch.arange(2 * batch_size, device=device).view(2, batch_size)

    @property
    def encode_all(self) -> bool:
        """Whether every vertex is encoded at every step."""
        return self.mode == "all"

    def sample(self) -> EdgeBatch:
        """Draw one batch of edges and negatives; see the class docstring for the modes."""
        u = torch.rand(
            self.batch_size, generator=self.generator, device=self.device, dtype=torch.float64
        )
        edge = alias_draw(self._prob, self._alias, 0, self.n_edges, u)
        head = self.head.index_select(0, edge)
        tail = self.tail.index_select(0, edge)
        if self.mode == "all":
            vertices = None
            n_encoded = self.n_vertices
        elif self.mode == "ends":
            vertices = torch.cat([head, tail])
            head, tail = self._ends
            n_encoded = 2 * self.batch_size
        else:
            vertices, inverse = torch.unique(torch.cat([head, tail]), return_inverse=True)
            head, tail = inverse[: self.batch_size], inverse[self.batch_size :]
            n_encoded = vertices.shape[0]
        r = torch.rand(
            (self.batch_size, self.negative_sample_rate),
            generator=self.generator,
            device=self.device,
        )
        negatives = (r * n_encoded).long().clamp_max_(n_encoded - 1)
        return EdgeBatch(vertices, head, tail, negatives)


class NeighbourNoise:
    """Noise along the data's own neighbourhoods: offsets to graph neighbours, mixed at random.

    Each encoded point ``x_i`` moves to ``x_i + sum_m z_m (x_{j_m} - x_i) / sqrt(draws)``,
    where ``j_1 .. j_draws`` are graph neighbours of ``i`` drawn in proportion to their
    fuzzy weight and ``z_m ~ N(0, 1)``, all drawn anew at every step. The noise lies in
    the span of the point's neighbourhood, with about the covariance of the offsets to
    its neighbours: it teaches the encoder the space between training points along the
    manifold (where unseen samples land), not across it, so a rolled-up sheet is not
    smoothed into a lump as isotropic noise smooths it. It is free of the data's units.

    Parameters
    ----------
    edges : EdgeList
    device : torch.device
    generator : torch.Generator
        On ``device``; shared with the edge sampler.
    draws : int
        Neighbours mixed per point and step.

    Notes
    -----
    Memory: the edge list sorted by head with its alias tables (two int64 and one
    float64 per directed edge) and, per step, ``n_encoded * draws`` neighbour indices and
    weights (the offsets themselves are never gathered).
    """

    def __init__(
        self,
        edges: EdgeList,
        device: torch.device,
        generator: torch.Generator,
        draws: int = 4,
    ) -> None:
        head = torch.as_tensor(edges.head, device=device)
        order = torch.argsort(head, stable=True)
        self.tail = torch.as_tensor(edges.tail, device=device).index_select(0, order)
        weight = torch.as_tensor(edges.weight, dtype=torch.float64, device=device)
        self.counts = torch.bincount(head, minlength=edges.n_vertices)
        self.first = torch.cumsum(self.counts, 0) - self.counts
        self._prob, self._alias = alias_tables(weight.index_select(0, order), self.counts)
        self.has_neighbours = self.counts > 0
        self.generator = generator
        self.draws = draws

    def __call__(
        self,
        data: torch.Tensor,
        vertices: torch.Tensor | None,
        encoded: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The noise of one step, for the encoded rows.

        Parameters
        ----------
        data : Tensor of shape (n_vertices, \\*input_shape)
            All encoder inputs.
        vertices : LongTensor of shape (n_encoded,) or None
            The rows encoded this step (None: all, in order).
        encoded : Tensor of shape (n_encoded, \\*input_shape), optional
            ``data``'s rows at ``vertices``, where the caller has gathered them already
            (the same noise, without gathering them again).

        Returns
        -------
        Tensor of shape (n_encoded, \\*input_shape), ``data``'s dtype.
        """
        flat = data.flatten(1)
        if vertices is None:
            # Every row, in order: the per-vertex tables as they are, no gathers.
            n = flat.shape[0]
            first, counts, has_neighbours, own = self.first, self.counts, self.has_neighbours, flat
        else:
            n = vertices.shape[0]
            first = self.first.index_select(0, vertices)
            counts = self.counts.index_select(0, vertices)
            has_neighbours = self.has_neighbours.index_select(0, vertices)
            own = flat.index_select(0, vertices) if encoded is None else encoded.flatten(1)
        u = torch.rand(
            (n, self.draws), generator=self.generator, device=flat.device, dtype=torch.float64
        )
        position = alias_draw(self._prob, self._alias, first.unsqueeze(1), counts.unsqueeze(1), u)
        neighbours = self.tail.index_select(0, position.flatten()).view(n, self.draws)
        z = torch.randn((n, self.draws), generator=self.generator, device=flat.device)
        z = z.to(flat.dtype)
        # sum_m z_m (x_j_m - x_i) = sum_m z_m x_j_m - (sum_m z_m) x_i, the first term as a
        # weighted bag of rows, never gathered: on 12,562 rows of 20,000 x 50 points it
        # took 0.57 ms where gathering the offsets took 1.95 ms (2-core CPU, ``python
        # benchmarks/step_kernels.py``).
        mixed = F.embedding_bag(neighbours, flat, per_sample_weights=z, mode="sum")
        noise = torch.addcmul(mixed, z.sum(1, keepdim=True), own, value=-1)
        noise.mul_(has_neighbours.unsqueeze(1) * self.draws**-0.5)
        return noise.view(n, *data.shape[1:])


#: Most values (``n_vertices x rank x n_inputs``) an :class:`AcrossNoise` basis holds:
#: 256 MiB of float32. Beyond it a random subset of the vertices, as many as fit, carries
#: the noise.
ACROSS_MAX_VALUES = 2**26
#: Values of the neighbour offsets whose basis is computed at once.
_BASIS_CHUNK_VALUES = 2**22
#: Basis values a step gathers and projects at once on the CPU (8 MiB of float32). One
#: gather of all the encoded rows' bases would be a fresh allocation of tens of MiB per
#: step, above glibc's largest mmap threshold (32 MiB), so every step would fault in new
#: pages: on 20,000 x 50 points (12,494 rows encoded) the projection took 16.0 ms in one
#: piece and 5.5 ms in chunks of this size, with bit-identical noise (``python
#: benchmarks/step_kernels.py``). A CUDA device's caching allocator reuses its blocks,
#: and there each chunk would be three more kernel launches: one piece.
_STEP_CHUNK_VALUES = 2**21
#: Directions of a neighbourhood whose variance is below this fraction of its largest
#: one count as absent (duplicates, collinear neighbours), so noise may take them.
_BASIS_RTOL = 1e-10


class AcrossNoise:
    """Noise across the data's neighbourhoods: isotropic noise, less its part in each
    point's neighbourhood span.

    Each encoded point ``x_i`` gets ``z - Q_i^T Q_i z``, ``z ~ N(0, I)``, drawn anew at
    every step, where the rows of ``Q_i`` are an orthonormal basis of the span of the
    offsets ``x_j - x_i`` to its ``rank`` heaviest graph neighbours. The noise leaves the
    directions the neighbourhood spans to :class:`NeighbourNoise` and covers the rest,
    the directions in which the graph holds no neighbour. Unseen samples lie off their
    training neighbours' span too (on held-out digits, more than half of the offset to
    the nearest training point does), and an encoder trained on the training points
    alone is steepest there (on digits about twice as steep as along the neighbours).
    Training on this noise flattens the map in those directions, so a held-out point
    lands where its training neighbours did. Data with at most ``rank`` inputs has no
    such direction: build it only where ``n_inputs > rank``.

    The module scales the noise per point, as ``input_noise``
    (:meth:`~glass_box_umap.training.UMAPModule.noise_scale`), so it is free of the
    data's units.

    Parameters
    ----------
    edges : EdgeList
    data : Tensor of shape (n_vertices, \\*input_shape)
        The encoder inputs, on ``generator``'s device.
    rank : int
        Neighbours whose offsets span a neighbourhood; fewer where a vertex has fewer.
    generator : torch.Generator
        Shared with the edge sampler: draws the subset (see ``max_values``) and the noise.
    max_values : int
        Most values the bases hold; beyond ``n_vertices * rank * n_inputs`` a random
        subset of ``max_values // (rank * n_inputs)`` vertices gets the noise, the rest
        none.

    Notes
    -----
    Memory on the device: the bases, ``min(n_vertices, max_values // (rank * n_inputs))
    * rank * n_inputs`` float32 values (at most 256 MiB), and per step one
    ``(n_encoded, n_inputs)`` draw. A step's projection is two batched vector-matrix
    products.
    """

    def __init__(
        self,
        edges: EdgeList,
        data: torch.Tensor,
        rank: int,
        generator: torch.Generator,
        max_values: int = ACROSS_MAX_VALUES,
    ) -> None:
        flat = data.flatten(1)
        n, dim = flat.shape
        self.n_vertices = n
        self.generator = generator
        self.input_shape = tuple(data.shape[1:])
        neighbours = torch.as_tensor(_heaviest_neighbours(edges, rank), device=flat.device)
        capacity = max(1, max_values // (rank * dim))
        if n <= capacity:
            self.rows = None  # every vertex has a basis, at its own index
            carriers = torch.arange(n, device=flat.device)
        else:
            carriers = torch.randperm(n, generator=generator, device=flat.device)[:capacity]
            carriers = carriers.sort().values
            self.rows = torch.full((n,), -1, dtype=torch.long, device=flat.device)
            self.rows[carriers] = torch.arange(capacity, device=flat.device)
        chunk = max(1, _BASIS_CHUNK_VALUES // (rank * dim))
        self.basis = torch.cat(
            [
                _span_basis(flat, carriers[start : start + chunk], neighbours)
                for start in range(0, len(carriers), chunk)
            ]
        )

    def __call__(self, vertices: torch.Tensor | None) -> torch.Tensor:
        """The unit-scale noise of one step, for the encoded rows.

        Parameters
        ----------
        vertices : LongTensor of shape (n_encoded,) or None
            The rows encoded this step (None: all, in order).

        Returns
        -------
        Tensor of shape (n_encoded, \\*input_shape), float32: per row, standard normal
        noise with its part in the row's neighbourhood span removed (zero for a vertex
        outside the subset).
        """
        # Rows of the basis per encoded row (None: the basis's own rows, in order).
        rows, carries = vertices, None
        if self.rows is not None:
            rows = self.rows if vertices is None else self.rows.index_select(0, vertices)
            carries = rows.ge(0).view(-1, 1, 1)
            rows = rows.clamp_min(0)
        n = self.n_vertices if vertices is None else vertices.shape[0]
        rank, dim = self.basis.shape[1], self.basis.shape[2]
        z = torch.randn((n, 1, dim), generator=self.generator, device=self.basis.device)
        noise = torch.empty_like(z)
        chunk = max(1, _STEP_CHUNK_VALUES // (rank * dim))
        if self.basis.device.type != "cpu":
            chunk = max(n, 1)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            if rows is None:
                basis = self.basis[start:stop]
            else:
                basis = self.basis.index_select(0, rows[start:stop])
            part = z[start:stop]
            # Row vectors times (rank, dim) matrices: on the CPU, PyTorch's batched
            # product runs this way round many times faster than with column vectors.
            torch.sub(part, torch.bmm(torch.bmm(part, basis.mT), basis), out=noise[start:stop])
        if carries is not None:
            noise = noise * carries
        return noise.view(n, *self.input_shape)


def alias_tables(weight: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Walker alias tables of consecutive groups of ``weight``: O(1) draws in proportion.

    A draw from the group of ``c`` values starting at position ``f`` takes a uniform
    ``v`` in ``[0, c)`` and returns ``f + floor(v)`` if ``frac(v) < prob[f + floor(v)]``,
    else ``alias[f + floor(v)]``: position ``i`` comes out with probability
    ``weight[i]`` over its group's total. That is two gathers and a comparison per
    draw, where a binary search of the cumulative weights (``torch.searchsorted``) took
    several times as long on the CPU.

    The tables are built without a loop, by the prefix-sum form of Vose's sweep
    (Hübschle-Schneider and Sanders, *Parallel weighted random sampling*, 2022). Within
    a group, with weights scaled to mean 1, the light values (below 1) and the heavy
    ones take their turns in position order: each light bucket is topped up by the first
    heavy whose cumulative excess exceeds the lights' cumulative deficit before it, and
    each heavy, once it has given its excess away, is topped up by the next heavy.
    Whatever positions float rounding makes those searches return, every value keeps
    its mass, as the residuals are taken from the same sums.

    Parameters
    ----------
    weight : Tensor of shape (n,)
        Non-negative weights, groups one after the other. A group whose weights sum to
        0 is drawn from uniformly.
    counts : LongTensor of shape (n_groups,)
        The groups' sizes, summing to ``n`` (zeros allowed).

    Returns
    -------
    prob : Tensor of shape (n,), float64
        Each bucket's own share, in [0, 1].
    alias : LongTensor of shape (n,)
        The position that fills the rest of each bucket (within its group).

    Notes
    -----
    Building the tables of 10 million values takes about 1.2 s and a peak of about 70
    bytes per value above the weights (the tables themselves are 16), in one group or in
    groups of 30, on a 2-core CPU (``python benchmarks/alias_memory.py``: 666 MB, where
    a cumulative sum of the weights takes 77 MB; 1,206 MB before the temporaries were
    dropped as they are used up). A fit's sampler and neighbour noise build one each,
    once.
    """
    # Temporaries are dropped (``del``) as soon as they are used up: the tables of a
    # million-point graph's edges are tens of millions of values, eight bytes each.
    device = weight.device
    n = weight.numel()
    weight = weight.double()
    group = torch.repeat_interleave(torch.arange(len(counts), device=device), counts)
    total = torch.zeros(len(counts), dtype=torch.float64, device=device)
    total.index_add_(0, group, weight)
    mean = (total / counts.clamp_min(1)).index_select(0, group)
    q = torch.where(mean > 0, weight / mean.clamp_min(torch.finfo(torch.float64).tiny), 1.0)
    del mean
    # Each group's largest value counts as heavy, even where rounding puts it below 1.
    largest = torch.full((len(counts),), -1.0, dtype=torch.float64, device=device)
    largest.scatter_reduce_(0, group, q, reduce="amax")
    light = (q < 1) & (q < largest.index_select(0, group))
    # Every position is its own alias until the light buckets are given theirs, below.
    alias = torch.arange(n, device=device)
    lights, heavies = alias[light], alias[~light]
    del light
    prob = q.clamp(max=1.0)
    if len(lights) == 0:
        return prob, alias

    def within_group(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """Inclusive cumulative sums of ``values``, restarted at every group."""
        sums = torch.zeros(len(counts), dtype=torch.float64, device=device)
        sums.index_add_(0, groups, values)
        before = torch.cumsum(sums, 0) - sums
        return torch.cumsum(values, 0).sub_(before.index_select(0, groups))

    light_group, heavy_group = group[lights], group[heavies]
    del group
    deficit = q[lights].neg_().add_(1.0)  # 1 - q, in place (the same bits)
    deficit_through = within_group(deficit, light_group)
    # (a group's largest value can sit a rounding below 1: it gives nothing)
    excess_through = within_group(q[heavies].sub_(1.0).clamp_min_(0.0), heavy_group)
    del q
    # Keys that sort the groups apart: group g's sums lie in [0, counts[g]), so an offset
    # of the sizes (plus one) of the groups before it puts them after the previous ones.
    offset = (torch.cumsum(counts + 1, 0) - (counts + 1)).double()
    light_key = torch.sub(deficit_through, deficit, out=deficit).add_(offset[light_group])
    del deficit
    heavy_key = offset[heavy_group].add_(excess_through)
    # The last heavy of each group: the bound of its lights' searches.
    heavy_count = torch.zeros(len(counts), dtype=torch.long, device=device)
    heavy_count.index_add_(0, heavy_group, torch.ones_like(heavy_group))
    last_heavy = torch.cumsum(heavy_count, 0) - 1
    filler = torch.searchsorted(heavy_key, light_key, right=True)
    filler = torch.minimum(filler, last_heavy[light_group])
    alias[lights] = heavies[filler]
    del filler, lights
    # A heavy is spent after the lights whose deficit began below its cumulative excess;
    # what is left of it is its own share, and the next heavy of its group fills the rest.
    spent = torch.searchsorted(light_key, heavy_key) - 1
    del light_key, heavy_key
    same = (spent >= 0) & (light_group[spent.clamp_min(0)] == heavy_group)
    given = torch.where(same, deficit_through[spent.clamp_min(0)], 0.0)
    del same, spent, light_group, deficit_through
    residual = (1.0 + excess_through - given).clamp(0.0, 1.0)
    del given, excess_through
    following = (torch.arange(len(heavies), device=device) + 1).clamp_max(len(heavies) - 1)
    has_next = heavy_group[following] == heavy_group
    has_next[-1] = False
    prob[heavies] = torch.where(has_next, residual, 1.0)
    alias[heavies] = torch.where(has_next, heavies[following], heavies)
    return prob, alias


def alias_draw(
    prob: torch.Tensor,
    alias: torch.Tensor,
    first: torch.Tensor | int,
    counts: torch.Tensor | int,
    u: torch.Tensor,
) -> torch.Tensor:
    """Positions drawn by :func:`alias_tables`'s tables, one per uniform in ``u``.

    Parameters
    ----------
    prob, alias : Tensor of shape (n,)
        From :func:`alias_tables`.
    first, counts : LongTensor broadcastable against ``u``, or int
        The start and size of the group each draw is from (a size of 0 gives ``first``,
        clamped to the tables, which the caller must mask).
    u : Tensor, float64
        Uniforms in [0, 1).

    Returns
    -------
    LongTensor of ``u``'s shape
    """
    scaled = u * counts
    bucket = scaled.long()
    within = scaled - bucket
    position = (bucket.clamp_(max=counts - 1).clamp_(min=0) + first).clamp_(max=len(prob) - 1)
    return torch.where(
        within < prob.index_select(0, position.flatten()).view(position.shape),
        position,
        alias.index_select(0, position.flatten()).view(position.shape),
    )


def _heaviest_neighbours(edges: EdgeList, rank: int) -> np.ndarray:
    """(n_vertices, rank) indices of each vertex's heaviest graph neighbours.

    Where a vertex has fewer than ``rank`` neighbours, the rest of its row is the vertex
    itself (a zero offset, which spans nothing).
    """
    order = np.lexsort((-edges.weight, edges.head))
    head, tail = edges.head[order], edges.tail[order]
    counts = np.bincount(head, minlength=edges.n_vertices)
    first = np.cumsum(counts) - counts
    position = np.arange(len(head)) - first[head]
    keep = position < rank
    neighbours = np.repeat(np.arange(edges.n_vertices)[:, None], rank, axis=1)
    neighbours[head[keep], position[keep]] = tail[keep]
    return neighbours


def _span_basis(
    flat: torch.Tensor, vertices: torch.Tensor, neighbours: torch.Tensor
) -> torch.Tensor:
    """Orthonormal bases, as rows (zero rows for absent directions), of each vertex's
    offsets to its neighbours: shape (len(vertices), rank, n_inputs), float32.

    From the eigenvectors of the offsets' Gram matrix (rank x rank, in float64), which
    is many times faster than a batched SVD of the offsets themselves.
    """
    own = flat.index_select(0, vertices).double()
    nbrs = flat.index_select(0, neighbours.index_select(0, vertices).flatten()).double()
    offsets = nbrs.view(len(vertices), neighbours.shape[1], -1) - own.unsqueeze(1)
    gram = offsets @ offsets.mT
    values, vectors = torch.linalg.eigh(gram)
    present = values > _BASIS_RTOL * values[:, -1:].clamp_min(torch.finfo(values.dtype).tiny)
    scale = torch.where(present, values.clamp_min(torch.finfo(values.dtype).tiny).rsqrt(), 0.0)
    return (vectors.mT @ offsets * scale.unsqueeze(2)).float()
