"""Exact attributions against any reference point: integrated gradients, without approximation.

:meth:`~glass_box_umap.GlassBoxUMAP.compute_contributions` explains a sample relative to
the origin of the embedding, where the mean training sample lands. To explain it relative to another
reference ``r`` (another sample, a cluster's centroid, a control), split
``g(x) - g(r)`` over the features along the straight path ``p(t) = r + t (x - r)``:

    phi_j = (x_j - r_j) * integral_0^1 J(p(t))[:, j] dt,    sum_j phi_j = g(x) - g(r).

This is integrated gradients, and for a continuous piecewise-linear ``g`` (bias-free
or not: PReLU / ReLU / LeakyReLU, max and average pooling, skips, linear and
convolution layers, an affine preparation such as the centring) the integral is a
*finite sum*: the path crosses finitely many linear pieces, on each of which ``J`` is
constant. :func:`path_contributions` walks the path piece by piece:

1. probe a point ``p(m)``: one forward pass in forward-mode AD gives every
   pre-activation ``z(m)`` and its derivative along the path ``z'``; with the activation
   pattern (and max-pooling choices) of ``p(m)`` frozen, each is affine in ``t``, so the
   piece around ``m`` ends exactly where the first of them reaches a kink (a max-pool
   window changes its choice), found in closed form;
2. if the piece reaches back to where the walk stands, weight the Jacobian at ``m`` by
   the piece's length, check that ``g`` is linear over it (``g(end) = g(start) +
   length J (x - r)``), and step to its end; otherwise probe closer.

A non-linearity written in a ``forward`` method rather than as a module (``F.relu``)
is invisible to step 1; the check of step 2 catches it, and the walk bisects the piece
until the check passes. In float32 that check is as coarse as the rounding, so kinks it
lets through add up: every path's summed contributions are compared with
``g(x) - g(r)`` at the end, and a miss beyond ``SUM_BOUND`` warns, naming the module.
Samples are walked together, as a batch: no per-sample loop.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch import nn

from ._validation import check_samples_and_baseline, resolve_dtype
from .attribution import batch_jacobian
from .exactness import scan_encoder
from .model import GlassBoxMap, RawInputMap, in_dtype, module_device

#: Activations that are linear between fixed kinks: the kinks of a module, as a tuple.
_KINKS: dict[type[nn.Module], Callable[[nn.Module], tuple[float, ...]]] = {
    nn.PReLU: lambda m: (0.0,),
    nn.ReLU: lambda m: (0.0,),
    nn.LeakyReLU: lambda m: (0.0,),
    nn.RReLU: lambda m: (0.0,),  # a fixed slope in eval mode, where the walk runs
    nn.Hardtanh: lambda m: (float(m.min_val), float(m.max_val)),  # ReLU6 too
    nn.Softshrink: lambda m: (-float(m.lambd), float(m.lambd)),
}

#: Max pooling: a window's choice changes where another input overtakes the chosen one.
_MAX_POOLS: dict[type[nn.Module], tuple[int, Callable[..., Any]]] = {
    nn.MaxPool1d: (1, F.max_pool1d),
    nn.MaxPool2d: (2, F.max_pool2d),
    nn.MaxPool3d: (3, F.max_pool3d),
    nn.AdaptiveMaxPool1d: (1, F.adaptive_max_pool1d),
    nn.AdaptiveMaxPool2d: (2, F.adaptive_max_pool2d),
    nn.AdaptiveMaxPool3d: (3, F.adaptive_max_pool3d),
}

#: Piecewise linear but with jumps: the gradient does not integrate to the difference.
_DISCONTINUOUS = (nn.Threshold, nn.Hardshrink)

#: Findings of :func:`~glass_box_umap.exactness.scan_encoder` that a path cannot cross
#: exactly (biases and additive constants are fine here: they only shift each piece).
_NOT_PIECEWISE_LINEAR = ("smooth activation", "attention", "normalisation")

#: Probes of a max-pool window's next change of choice, per probe of the path.
_POOL_ROUNDS = 64

#: What the summed contributions of a path may miss ``g(x) - g(r)`` by, relative to the
#: rounding scale ``max_k (|g(x)_k| + |g(r)_k| + sum_j |phi_kj|)``, before the walk warns.
#: Piecewise-linear modules measure a few 1e-7 in float32 and ~1e-16 in float64; a kink
#: hidden in ``forward`` (``torch.abs``, ``F.relu``, ``F.gelu``) 1e-4 and 1e-13.
SUM_BOUND = {torch.float32: 1e-5, torch.float64: 1e-13}


def check_piecewise_linear(module: nn.Module) -> None:
    """Raise unless ``module`` is, as far as its layers tell, continuous piecewise linear.

    Parameters
    ----------
    module : nn.Module
        The module to check, an encoder or a whole map; its layers (``named_modules``)
        are read, nothing is run.

    Raises
    ------
    ValueError
        Naming ``module`` and the first layer that is smooth (tanh, GELU ...), uses
        statistics of the sample itself (LayerNorm ...), attends, or jumps (Threshold,
        Hardshrink). Biases are allowed: each piece is then affine, which the path
        handles alike. BatchNorm is allowed: in eval mode it is an affine map.
    """
    for path, sub in module.named_modules():
        if isinstance(sub, _DISCONTINUOUS):
            raise ValueError(
                f"module: {type(sub).__name__} at {path or '<root>'} jumps, so the "
                "integral of the gradient along a path is not the change of the output"
            )
    for finding in scan_encoder(module):
        if finding.kind not in _NOT_PIECEWISE_LINEAR:
            continue
        layer = module.get_submodule(finding.path)
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats:
            continue
        raise ValueError(
            f"module: exact path attributions need a continuous piecewise-linear map, but "
            f"the {finding.kind} {type(layer).__name__} at {finding.path or '<root>'} is not "
            "one; use PReLU / ReLU / LeakyReLU, pooling and linear layers "
            "(glass_box_umap.encoders.layers)"
        )


class _Tracer:
    """Records, during a forward pass in forward-mode AD, each kink site's input and tangent.

    The activations of :data:`_KINKS` and the max pools of :data:`_MAX_POOLS` of ``model``
    (a private copy: the caller never sees this) get a ``forward`` that records its input
    while :meth:`probe` runs. An activation also passes its tangent on by itself, as the
    tangent times its slope on the input's side of the kink (what autograd would pick):
    ``torch.prelu`` under forward-mode AD runs a Python decomposition, several times
    slower than the whole rest of the network.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.records: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] | None = None
        self.originals: list[tuple[nn.Module, Any]] = []
        for sub in model.modules():
            if type(sub) in _MAX_POOLS or isinstance(sub, tuple(_KINKS)):
                self.originals.append((sub, sub.__dict__.get("forward")))
                sub.forward = self._traced(sub, sub.forward)

    def _traced(self, module: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
        is_pool = type(module) in _MAX_POOLS

        def traced(z: torch.Tensor) -> Any:
            if self.records is None:
                return forward(z)
            primal, tangent = fwAD.unpack_dual(z)
            tangent = torch.zeros_like(primal) if tangent is None else tangent
            self.records.append((module, primal, tangent))
            if is_pool:
                return forward(z)
            return fwAD.make_dual(forward(primal), tangent * _slope(module, forward, primal))

        return traced

    def close(self) -> None:
        for module, forward in self.originals:
            if forward is None:
                del module.forward
            else:
                module.forward = forward

    def probe(
        self, points: torch.Tensor, direction: torch.Tensor, m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The linear piece of the path around ``t = m``, per sample.

        Parameters
        ----------
        points : Tensor of shape (n, \\*input_shape)
            ``p(m) = r + m (x - r)``.
        direction : Tensor of shape (n, \\*input_shape)
            ``x - r``.
        m : Tensor of shape (n,), float64
            Where on the path ``points`` lie.

        Returns
        -------
        crossings : Tensor of shape (n, n_kinks), float64
            Where, in ``t``, each unit's frozen affine pre-activation meets each of its
            kinks (``inf`` where it never does); used to guess the next piece's end.
        lo, hi : Tensor of shape (n,), float64
            The piece around ``m``, within [0, 1].
        """
        n = points.shape[0]
        self.records = records = []
        try:
            with fwAD.dual_level(), torch.no_grad():
                self.model(fwAD.make_dual(points.contiguous(), direction.contiguous()))
        finally:
            self.records = None
        times = [torch.full((n, 1), math.inf, dtype=torch.float64, device=points.device)]
        pools = []
        for module, z, dz in records:
            if z.shape[0] != n:
                raise ValueError(
                    f"module: {type(module).__name__} sees inputs of shape {tuple(z.shape)}; "
                    f"path_contributions needs every layer to keep the {n} samples along "
                    "dimension 0"
                )
            if type(module) in _MAX_POOLS:
                pools.append((module, z.double(), dz.double()))
                continue
            z, dz = z.reshape(n, -1).double(), dz.reshape(n, -1).double()
            for kink in _kinks(module):
                t = m[:, None] + (kink - z) / dz
                times.append(torch.where(dz != 0, t, math.inf))
        crossings = torch.cat(times, dim=1)
        below = torch.where(crossings <= m[:, None], crossings, -math.inf)
        lo = below.amax(1).clamp(min=0.0)
        hi = crossings.where(crossings > m[:, None], math.inf).amin(1).clamp(max=1.0)
        for module, z, dz in pools:
            hi = _pool_bound(module, z, dz, m, hi, upward=True)
            lo = _pool_bound(module, z, dz, m, lo, upward=False)
        return crossings, lo, hi


def _slope(module: nn.Module, forward: Callable[..., Any], z: torch.Tensor) -> torch.Tensor:
    """The activation's slope at ``z`` (at a kink, the one autograd uses)."""
    if isinstance(module, nn.Hardtanh):
        return ((z > module.min_val) & (z < module.max_val)).to(z.dtype)
    if isinstance(module, nn.Softshrink):
        return (z.abs() > module.lambd).to(z.dtype)
    # Through the origin: slope 1 above 0, and below it what the layer makes of -1.
    return torch.where(z > 0, 1.0, -forward(-torch.ones_like(z)))


def _kinks(module: nn.Module) -> tuple[float, ...]:
    for cls, kinks in _KINKS.items():
        if isinstance(module, cls):
            return kinks(module)
    raise TypeError(f"no kinks known for {type(module).__name__}")  # unreachable: hooked


def _pool_bound(
    module: nn.Module,
    z: torch.Tensor,
    dz: torch.Tensor,
    m: torch.Tensor,
    bound: torch.Tensor,
    upward: bool,
) -> torch.Tensor:
    """How far from ``m`` (towards ``bound``) every window of a max pool keeps its choice.

    The pool's inputs are ``v(t) = z + (t - m) dz`` with the pattern of ``m`` frozen.
    Where some window chooses differently at ``bound`` than at ``m``, the crossing of its
    choice at ``m`` with its choice at ``bound`` is closer to ``m``: move ``bound`` there
    and look again. A window's values are affine in ``t``, so the chosen one is the
    largest on an interval, and this ends at the first change of choice.
    """
    n_dims, pool = _MAX_POOLS[type(module)]
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        args: tuple[Any, ...] = (
            module.kernel_size,
            module.stride,
            module.padding,
            module.dilation,
            module.ceil_mode,
        )
    else:
        args = (module.output_size,)
    n = z.shape[0]
    shape = (n,) + (1,) * (z.ndim - 1)
    window_shape = (n,) + (1,) * (z.ndim - n_dims)

    def gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return values.flatten(-n_dims).gather(-1, index.flatten(-n_dims))

    _, chosen = pool(z, *args, return_indices=True)
    z_chosen, dz_chosen = gather(z, chosen), gather(dz, chosen)
    eps = torch.finfo(torch.float64).eps
    for _ in range(_POOL_ROUNDS):
        v = z + (bound - m).view(shape) * dz
        top, index = pool(v, *args, return_indices=True)
        top = top.flatten(-n_dims)
        mine = gather(v, chosen)
        changed = top - mine > 64 * eps * (top.abs() + mine.abs())
        if not changed.any():
            break
        slope = gather(dz, index) - dz_chosen
        t = m.view(window_shape) + (z_chosen - gather(z, index)) / slope
        t = torch.where(changed & (slope != 0), t, math.inf if upward else -math.inf)
        t = t.reshape(n, -1)
        bound = (
            torch.minimum(bound, t.amin(1).clamp(min=m))
            if upward
            else torch.maximum(bound, t.amax(1).clamp(max=m))
        )
    return bound


def _first_after(crossings: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """The first crossing beyond ``after`` per sample, at most 1."""
    beyond = crossings.where(crossings > after[:, None], math.inf)
    return beyond.amin(1).clamp(max=1.0)


def path_contributions(
    module: nn.Module,
    X: Any,
    baseline: Any,
    *,
    dtype: str | torch.dtype = torch.float32,
    batch_size: int = 256,
    max_steps: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-feature split of ``module(X) - module(baseline)`` along straight paths.

    ``phi[i, k, j] = (x_ij - r_ij) * integral_0^1 J_k(r_i + t (x_i - r_i))[j] dt``, summed
    exactly over the linear pieces the path crosses (module docstring). It sums over the
    features to ``module(X)[i, k] - module(baseline)[i, k]``: to a few 1e-6 relative in
    float32 and ~1e-15 in float64 (the tests demand 1e-5 and 1e-12). With ``baseline = 0``
    and a bias-free (positively homogeneous) module, the path is a ray from the origin,
    lies in one piece, and the result is the ordinary ``J(x)[k, j] * x[j]`` of
    ``glass_box_umap.attribution.contributions``.

    Parameters
    ----------
    module : nn.Module
        Continuous piecewise linear (:func:`check_piecewise_linear`), mapping a batch of
        shape (n, \\*input_shape) to (n, n_components), with samples along dimension 0 of
        every layer. It is not modified: the walk runs on a copy, in eval mode and in
        ``dtype``, on the device of its parameters. :func:`fitted_map` gives one for a
        fitted :class:`~glass_box_umap.GlassBoxUMAP` that takes raw samples (a
        ``RawInputMap``): ``X`` and ``baseline`` are then
        centred on its mean in float64 first and the centred map is walked, so that
        raw units with large offsets meet the same bounds.
    X : array-like or Tensor of shape (n_samples, \\*input_shape)
        The samples explained: the end of each path.
    baseline : array-like or Tensor of shape input_shape or (n_samples, \\*input_shape)
        The reference: one for every sample, or one per sample.
    dtype : {'float32', 'float64'} or torch.dtype, default torch.float32
        Precision of the forward passes and Jacobians (the integral over pieces is
        accumulated in float64).
    batch_size : int, default 256
        Samples walked together.
    max_steps : int, default 20_000
        Probes allowed per sample. A piece takes one probe, sometimes a few more; a
        path through more pieces than this stops the walk with an error rather than
        run on.

    Returns
    -------
    contributions : ndarray of shape (n_samples, n_components, \\*input_shape), ``dtype``
        ``phi``: each feature's part of the change of each embedding component along
        the path from the sample's baseline to the sample.
    pieces : ndarray of shape (n_samples,), int64
        Linear pieces crossed by each sample's path (1 for a path inside one piece,
        and for ``x == r``).

    Raises
    ------
    ValueError
        Naming ``module`` (a smooth or jumping layer, or one that mixes samples),
        ``X``, ``baseline`` (a shape that is neither input_shape nor X's), ``batch_size``
        or ``max_steps``.
    RuntimeError
        Naming ``max_steps`` and the module (the encoder of a fitted map) when a path
        needs more probes.

    Warns
    -----
    RuntimeWarning
        Naming the module (the encoder of a fitted map) when the summed contributions of
        a path miss ``g(x) - g(r)`` by more than ``SUM_BOUND`` (1e-5 in float32,
        1e-13 in float64, relative to the size of the terms), or a piece shorter than the
        float resolution still fails the linearity check: the module hides a
        non-linearity its layers do not show (``torch.abs``, ``F.relu``, ``F.gelu`` in
        ``forward``), and the contributions are not exact.

    Examples
    --------
    >>> import torch
    >>> from glass_box_umap.encoders import MLPEncoder
    >>> encoder = MLPEncoder(5, 2).eval()
    >>> x, r = torch.randn(3, 5), torch.randn(5)
    >>> phi, pieces = path_contributions(encoder, x, r, dtype="float64")
    >>> phi.shape, pieces.shape
    ((3, 2, 5), (3,))
    >>> gap = (encoder.double()(x.double()) - encoder(r.double()[None])).detach().numpy()
    >>> bool(abs(phi.sum(-1) - gap).max() < 1e-12)
    True
    """
    torch_dtype = resolve_dtype(dtype)
    for name, value in (("batch_size", batch_size), ("max_steps", max_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected an nn.Module, got {type(module).__name__}")
    check_piecewise_linear(module)
    x, r = check_samples_and_baseline(X, baseline)
    input_shape = tuple(x.shape[1:])
    if isinstance(module, RawInputMap):
        # Centre in float64 and walk the centred map: centring raw samples in float32
        # (proline ~750, or an offset of 1e4) loses the digits the path is made of, and
        # the linearity check would scale with the raw points, not the centred ones.
        mean = module.map.mean.reshape(input_shape).to(x.device)
        x, r = x.double() - mean, r.double() - mean
        module = module.map
    owner = _describe(module)
    device = module_device(module)
    model = copy.deepcopy(module).to(torch_dtype).eval()
    tracer = _Tracer(model)
    contributions, pieces, errors, unverified = [], [], [], 0
    try:
        for start in range(0, x.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            xb = x[rows].to(device=device, dtype=torch_dtype)
            rb = r[rows] if r.shape[0] > 1 else r
            rb = rb.to(device=device, dtype=torch_dtype).expand_as(xb)
            phi, count, error, short = _walk(model, tracer, xb, rb, max_steps, owner)
            contributions.append(phi.to(torch_dtype).cpu().numpy())
            pieces.append(count.cpu().numpy())
            errors.append(error.cpu().numpy())
            unverified += short
    finally:
        tracer.close()
    error = np.concatenate(errors)
    missed = int((error > SUM_BOUND[torch_dtype]).sum())
    if missed or unverified:
        warnings.warn(
            f"path_contributions: {owner} holds a non-linearity its layers do not show "
            "(torch.abs, F.relu, F.gelu ... in forward; use the modules nn.ReLU, nn.PReLU), "
            f"so the contributions are not exact: {missed} of {error.size} paths miss "
            f"g(x) - g(baseline) by more than {SUM_BOUND[torch_dtype]:g} of their terms "
            f"(largest {float(error.max()):.3g})"
            + (
                f", {unverified} have a piece below the float resolution that is not linear"
                if unverified
                else ""
            ),
            RuntimeWarning,
            stacklevel=2,
        )
    return np.concatenate(contributions), np.concatenate(pieces)


def _describe(module: nn.Module) -> str:
    """How messages name ``module``: a fitted map by its encoder."""
    if isinstance(module, GlassBoxMap):
        return f"encoder {type(module.encoder).__name__}"
    return f"module {type(module).__name__}"


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(x)
    if out.ndim != 2 or out.shape[0] != x.shape[0]:
        raise ValueError(
            f"module: expected an output of shape ({x.shape[0]}, n_components), got "
            f"{tuple(out.shape)}"
        )
    return out


def _walk(
    model: nn.Module,
    tracer: _Tracer,
    x: torch.Tensor,
    r: torch.Tensor,
    max_steps: int,
    owner: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Walk every path ``r -> x`` of a batch.

    Returns the contributions (float64), the pieces crossed, each path's relative error
    of the summed contributions (``SUM_BOUND``), and how many paths have a piece
    below the float resolution that failed the linearity check.
    """
    n = x.shape[0]
    f64 = dict(dtype=torch.float64, device=x.device)
    eps = torch.finfo(x.dtype).eps
    tol = 256 * eps
    d = x - r
    flat = d.reshape(n, 1, -1)
    # The resolution of the path in t: p(t) moves by less than its own rounding when t
    # moves by eps |p| / |x - r|. Pieces shorter than 64 times that are within rounding
    # of a kink: merged into their neighbour, never split.
    length = flat.double().norm(dim=-1).squeeze(1)
    size = r.reshape(n, -1).double().norm(dim=1) + x.reshape(n, -1).double().norm(dim=1)
    delta = (64 * eps * (1 + size / length)).nan_to_num(1e-3).clamp(max=1e-3)

    def point(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        t = t.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
        at_end = t == 1  # p(1) is x itself, not x up to the rounding of r + (x - r)
        return torch.where(at_end, x[rows], r[rows] + t * d[rows])

    everyone = torch.arange(n, device=x.device)
    start = torch.zeros(n, **f64)
    crossings, _, _ = tracer.probe(r, d, start)
    guess = _first_after(crossings, delta)  # end of the next piece, a guess
    cap = torch.ones(n, **f64)  # the next piece may not end beyond (bisection)
    failed = torch.ones(n, **f64)  # g is not linear from a to failed (bisection)
    a = start.clone()  # the path is walked from 0 to a
    g_a = _forward(model, r).double()
    g_r = g_a.clone()
    # What the contributions are measured against: a piece is linear when g fits it to
    # rounding at the scale of its own terms or of the path's ends.
    ends = g_a.abs() + _forward(model, x).double().abs()
    integral = torch.zeros((n, g_a.shape[1], flat.shape[-1]), **f64)
    pieces = torch.zeros(n, dtype=torch.int64, device=x.device)
    steps = torch.zeros(n, dtype=torch.int64, device=x.device)
    unverified = torch.zeros(n, dtype=torch.bool, device=x.device)
    active = everyone
    while active.numel():
        steps[active] += 1
        if int(steps[active].max()) > max_steps:
            raise RuntimeError(
                f"max_steps: a path needed more than {max_steps} probes (at t = "
                f"{float(a[active].min()):.3g} of 1); raise max_steps, or check that "
                f"{owner} is piecewise linear with few pieces (a smooth function such as "
                "F.gelu in its forward is not)"
            )
        aa = a[active]
        m = (aa + torch.minimum(guess[active], cap[active])) / 2
        p_m = point(m, active)
        crossings, lo, hi = tracer.probe(p_m, d[active], m)
        found = lo <= aa + delta[active]
        # The piece around m starts beyond a: there is a kink in between, probe there.
        guess[active[~found]] = lo[~found]
        if not found.any():
            continue
        rows, m, hi = active[found], m[found], hi[found]
        crossings, aa = crossings[found], aa[found]
        end = torch.minimum(hi, cap[rows])
        jac, _ = batch_jacobian(model, p_m[found])
        jac = jac.detach().reshape(rows.numel(), -1, flat.shape[-1]).double()
        p_end = point(end, rows)
        g_end = _forward(model, p_end).double()
        step = (jac * flat[rows].double()).sum(-1) * (end - aa)[:, None]
        residual = (g_end - g_a[rows] - step).abs()
        # Rounding in g(p) is of the order of eps |J| |p| (a bias-free map's terms).
        size = (point(aa, rows).abs() + p_end.abs()).reshape(rows.numel(), 1, -1).double()
        scale = ends[rows] + g_end.abs() + g_a[rows].abs() + (jac.abs() * size).sum(-1)
        linear = (residual <= tol * scale).all(1)
        short = end - aa <= delta[rows]
        unverified[rows[~linear & short]] = True
        ok = linear | short
        good = rows[ok]
        integral[good] += (end - aa)[ok, None, None] * jac[ok]
        a[good] = end[ok]
        g_a[good] = g_end[ok]
        pieces[good] += 1
        # Bisecting towards a kink no hook sees: it lies between the new a and failed.
        failed[good] = torch.where(end[ok] < failed[good], failed[good], 1.0)
        cap[good] = failed[good]
        # Cut short by the cap: the piece goes on to hi; otherwise guess past the next kink.
        after = _first_after(crossings[ok], hi[ok] + delta[good])
        guess[good] = torch.where(end[ok] < hi[ok], hi[ok], after)
        # Not linear over [a, end]: a kink no hook sees is in there; bisect.
        bad = rows[~ok]
        failed[bad] = end[~ok]
        cap[bad] = aa[~ok] + (end[~ok] - aa[~ok]) / 2
        guess[bad] = cap[bad]
        active = everyone[a < 1]
    phi = integral * flat.double()
    gap = (g_a - g_r - phi.sum(-1)).abs()
    size = (g_a.abs() + g_r.abs() + phi.abs().sum(-1)).amax(1)
    error = (gap.amax(1) / size).nan_to_num(0.0)  # 0 / 0: x == r
    return phi.reshape(n, -1, *x.shape[1:]), pieces, error, int(unverified.sum())


def fitted_map(reducer: Any, dtype: str | torch.dtype = torch.float32) -> RawInputMap:
    """The raw-input map of a fitted :class:`~glass_box_umap.GlassBoxUMAP`, as a module.

    ``reducer.map_`` (a copy, in ``dtype`` and eval mode: the reducer is not touched)
    behind the centring on the training mean, so that it takes raw samples.

    Parameters
    ----------
    reducer : GlassBoxUMAP
        Fitted (or loaded).
    dtype : {'float32', 'float64'} or torch.dtype, default torch.float32

    Returns
    -------
    glass_box_umap.model.RawInputMap
        ``fitted_map(reducer)(X)`` equals ``reducer.transform(X)`` to float rounding
        (called directly, the centring runs in ``dtype``, in float64 there;
        :func:`path_contributions` centres it in float64 too).

    Examples
    --------
    ``explained = path_contributions(fitted_map(reducer), X, X[0])``: why each sample
    lands where it does rather than where sample 0 does; the same numbers as
    ``reducer.compute_contributions(X, baseline=X[0])``.
    """
    map_ = getattr(reducer, "map_", None)
    if not isinstance(map_, GlassBoxMap):
        raise ValueError(f"reducer: expected a fitted GlassBoxUMAP, got {type(reducer).__name__}")
    return RawInputMap(in_dtype(map_, resolve_dtype(dtype), always_copy=True)).eval()


__all__ = ["check_piecewise_linear", "fitted_map", "path_contributions"]
