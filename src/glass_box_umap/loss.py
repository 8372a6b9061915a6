"""UMAP's fuzzy cross-entropy in the embedding, and the curve it is measured with."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy.optimize import curve_fit
from torch.nn import functional as F

#: Added to squared distances in the repulsive term, as umap-learn's optimiser does,
#: so that coincident points repel with a large but finite force.
REPULSION_EPS = 1e-3
#: Squared distances are clamped here in the attractive term so that log(0) never occurs.
ATTRACTION_EPS = 1e-10


@lru_cache(maxsize=64)
def find_ab_params(spread: float = 1.0, min_dist: float = 0.1) -> tuple[float, float]:
    """Fit ``a, b`` of ``1 / (1 + a d^(2b))`` to UMAP's offset exponential.

    The target curve is 1 for ``d < min_dist`` and ``exp(-(d - min_dist) / spread)``
    beyond; the least-squares fit on ``[0, 3 spread]`` is the one umap-learn uses.
    """

    def curve(x, a, b):
        return 1.0 / (1.0 + a * x ** (2 * b))

    xv = np.linspace(0, spread * 3, 300)
    yv = np.where(xv < min_dist, 1.0, np.exp(-(xv - min_dist) / spread))
    (a, b), _ = curve_fit(curve, xv, yv)
    return float(a), float(b)


def umap_loss(
    head: torch.Tensor,
    tail: torch.Tensor,
    negatives: torch.Tensor,
    a: float,
    b: float,
    repulsion_strength: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy between the fuzzy graph and the embedding's low-dimensional similarities.

    Edges arrive already sampled in proportion to their weight, so each positive pair
    contributes ``-log q`` and each negative pair ``-log(1 - q)``, with
    ``q = 1 / (1 + a d^(2b))``. Both are softplus of ``log(a d^(2b))``, which is stable
    for tiny and huge distances alike.

    Parameters
    ----------
    head, tail : tensors of shape (n_edges, n_components)
        Embeddings of the two ends of each sampled edge.
    negatives : tensor of shape (n_edges, negative_sample_rate, n_components)
        Embeddings of the points each head is pushed away from.
    a, b : float
        Curve parameters from :func:`find_ab_params`.
    repulsion_strength : float
        Weight of the repulsive term.

    Returns
    -------
    loss, attraction, repulsion : scalar tensors
        ``loss = attraction + repulsion_strength * repulsion``, each summed over pairs
        and divided by the number of positive edges.
    """
    n_edges = head.shape[0]
    log_a = float(np.log(a))
    d2_pos = (head - tail).square().sum(-1).clamp_min(ATTRACTION_EPS)
    d2_neg = (head.unsqueeze(1) - negatives).square().sum(-1) + REPULSION_EPS
    attraction = F.softplus(log_a + b * torch.log(d2_pos)).sum() / n_edges
    repulsion = F.softplus(-(log_a + b * torch.log(d2_neg))).sum() / n_edges
    return attraction + repulsion_strength * repulsion, attraction, repulsion


class _SampledUMAPLoss(torch.autograd.Function):
    """:func:`umap_loss` on rows of one embedding, with its gradient formed in the forward pass.

    Autograd through :func:`umap_loss` runs about forty kernels over the
    ``batch_size * negative_sample_rate`` pairs and scatters three gathers back; here the
    derivative of each term with respect to its pair's squared distance is written out
    (``softplus'(z) = sigmoid(z)``, ``dz / d(d^2) = b / d^2``) and reused, and each end's
    gradient is added into its row once. On digits' shapes (1,203 rows, 10,000 edges,
    five negatives) the loss with its backward takes 0.75 ms on a 2-core CPU instead of
    2.5 ms (``python benchmarks/step_kernels.py``).
    """

    @staticmethod
    def forward(ctx, emb, head, tail, negatives, a, b, repulsion_strength):
        n_edges, rate = negatives.shape
        log_a = float(np.log(a))
        # Components as rows: each pair's squared distance is a sum of contiguous rows.
        rows = emb.t().contiguous()
        at_head = rows.index_select(1, head)
        diff_pos = at_head - rows.index_select(1, tail)
        d2_raw = (diff_pos * diff_pos).sum(0)
        d2_pos = d2_raw.clamp_min(ATTRACTION_EPS)
        z_pos = torch.log(d2_pos).mul_(b).add_(log_a)
        diff_neg = at_head.unsqueeze(2) - rows.index_select(1, negatives.flatten()).view(
            -1, n_edges, rate
        )
        d2_neg = (diff_neg * diff_neg).sum(0).add_(REPULSION_EPS)
        z_neg = torch.log(d2_neg).mul_(b).add_(log_a)
        attraction = F.softplus(z_pos).sum() / n_edges
        repulsion = F.softplus(-z_neg).sum() / n_edges
        # d term / d diff = 2 * diff * sigmoid(+-z) * b / d^2; the clamp passes no gradient.
        scale_pos = torch.sigmoid(z_pos).mul_(2 * b / n_edges).div_(d2_pos)
        scale_pos = torch.where(d2_raw > ATTRACTION_EPS, scale_pos, 0.0)
        scale_neg = torch.sigmoid(z_neg.neg_()).mul_(-2 * b / n_edges).div_(d2_neg)
        pull = diff_pos * scale_pos
        push = diff_neg * scale_neg
        grad_attraction = torch.zeros_like(rows).index_add_(1, head, pull)
        grad_attraction.index_add_(1, tail, pull.neg())
        grad_repulsion = torch.zeros_like(rows).index_add_(1, head, push.sum(2))
        grad_repulsion.index_add_(1, negatives.flatten(), push.view(push.shape[0], -1).neg())
        ctx.save_for_backward(grad_attraction, grad_repulsion)
        ctx.repulsion_strength = repulsion_strength
        ctx.set_materialize_grads(False)
        return attraction + repulsion_strength * repulsion, attraction, repulsion

    @staticmethod
    def backward(ctx, grad_loss, grad_attraction_out, grad_repulsion_out):
        grad_attraction, grad_repulsion = ctx.saved_tensors
        weight_a = weight_r = 0.0
        if grad_loss is not None:
            weight_a, weight_r = grad_loss, grad_loss * ctx.repulsion_strength
        if grad_attraction_out is not None:
            weight_a = weight_a + grad_attraction_out
        if grad_repulsion_out is not None:
            weight_r = weight_r + grad_repulsion_out
        grad = grad_attraction * weight_a + grad_repulsion * weight_r
        return grad.t(), None, None, None, None, None, None


def sampled_umap_loss(
    emb: torch.Tensor,
    head: torch.Tensor,
    tail: torch.Tensor,
    negatives: torch.Tensor,
    a: float,
    b: float,
    repulsion_strength: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`umap_loss` of pairs of rows of ``emb``, with a hand-written backward pass.

    Equal to ``umap_loss(emb[head], emb[tail], emb[negatives], ...)`` in value and in
    gradient (to float rounding), several times faster on the CPU; what a training step
    calls.

    Parameters
    ----------
    emb : tensor of shape (n_rows, n_components)
        Embeddings of the rows encoded this step.
    head, tail : LongTensor of shape (n_edges,)
        Rows of the two ends of each sampled edge.
    negatives : LongTensor of shape (n_edges, negative_sample_rate)
        Rows each head is pushed away from.
    a, b : float
        Curve parameters from :func:`find_ab_params`.
    repulsion_strength : float
        Weight of the repulsive term.

    Returns
    -------
    loss, attraction, repulsion : scalar tensors
        As :func:`umap_loss` returns them; each is differentiable with respect to ``emb``.
    """
    return _SampledUMAPLoss.apply(emb, head, tail, negatives, a, b, repulsion_strength)
