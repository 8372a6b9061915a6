"""Batches of weighted edges and negative samples, drawn on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .graph import EdgeList


@dataclass
class EdgeBatch:
    """One training step's worth of pairs, as positions into ``vertices``.

    Attributes
    ----------
    vertices : LongTensor of shape (n_encoded,)
        The vertices to encode this step, each once: the distinct ends of the batch's
        edges, or every vertex when the graph is small enough that a batch touches
        nearly all of them anyway.
    head, tail : LongTensor of shape (batch_size,)
        Positions in ``vertices`` of the ends of each sampled edge.
    negatives : LongTensor of shape (batch_size, negative_sample_rate)
        Positions in ``vertices`` of the points each head is pushed away from.
    """

    vertices: torch.Tensor
    head: torch.Tensor
    tail: torch.Tensor
    negatives: torch.Tensor


class EdgeSampler:
    """Draws edges with probability proportional to their fuzzy weight.

    UMAP visits an edge of weight ``w`` ``w / max(w)`` times as often as the strongest
    edge; sampling i.i.d. in proportion to ``w`` gives every step the same expected
    gradient. One ``searchsorted`` over the cumulative weights draws a whole batch.

    Negatives pair the head of each edge with vertices drawn uniformly from the
    vertices encoded this step, so they need no forward pass of their own. When the
    graph has no more vertices than the batch has edges, every vertex is encoded (a
    batch of ``B`` edges touches about ``1 - exp(-2B/n)`` of them, 86% or more) and
    negatives are uniform over all points, as in umap-learn; above that, only the
    distinct ends of the batch's edges are encoded.

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
    """

    def __init__(
        self,
        edges: EdgeList,
        batch_size: int,
        negative_sample_rate: int,
        device: torch.device,
        generator: torch.Generator,
    ) -> None:
        self.head = torch.as_tensor(edges.head, device=device)
        self.tail = torch.as_tensor(edges.tail, device=device)
        cdf = torch.cumsum(torch.as_tensor(edges.weight, dtype=torch.float64, device=device), 0)
        self.cdf = cdf / cdf[-1]
        self.n_edges = len(edges.head)
        self.n_vertices = edges.n_vertices
        self.batch_size = batch_size
        self.negative_sample_rate = negative_sample_rate
        self.device = device
        self.generator = generator
        self.encode_all = self.n_vertices <= batch_size
        self._all_vertices = torch.arange(self.n_vertices, device=device)

    def sample(self) -> EdgeBatch:
        u = torch.rand(
            self.batch_size, generator=self.generator, device=self.device, dtype=torch.float64
        )
        edge = torch.searchsorted(self.cdf, u).clamp_max_(self.n_edges - 1)
        head = self.head.index_select(0, edge)
        tail = self.tail.index_select(0, edge)
        if self.encode_all:
            vertices = self._all_vertices
        else:
            vertices, inverse = torch.unique(torch.cat([head, tail]), return_inverse=True)
            head, tail = inverse[: self.batch_size], inverse[self.batch_size :]
        r = torch.rand(
            (self.batch_size, self.negative_sample_rate),
            generator=self.generator,
            device=self.device,
        )
        # Scaling by a tensor length keeps the draw free of host synchronisation.
        negatives = (r * vertices.shape[0]).long().clamp_max_(vertices.shape[0] - 1)
        return EdgeBatch(vertices, head, tail, negatives)
