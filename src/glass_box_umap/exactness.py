"""Does ``f(x) = J(x) x`` hold for this encoder, on this data, and if not, why not?

Two complementary checks:

* :func:`~glass_box_umap.check_exactness` measures it: the contributions of each sample
  are summed and compared with the forward pass, in float64 by default, and the errors
  are reported with the samples where they are largest.
* :func:`~glass_box_umap.exactness.scan_encoder` reads the module tree and names the
  layers known to break it (biases, smooth or saturating activations, normalisations
  with a shift or with per-sample statistics, attention), which tells *why* a numeric
  check failed, and
  catches a bias that is zero today but will move in training.

``GlassBoxUMAP.fit`` runs both on its freshly built encoder and a few training samples,
and warns with :class:`ExactnessWarning` before training when the encoder is not exact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from . import _validation as check
from .attribution import contributions
from .encoders.layers import EXACT_MODULES
from .model import GlassBoxMap, in_dtype

#: Default tolerances on the relative error. Exact encoders measure ~1e-16 in float64
#: and ~1e-7 in float32; a bias, a tanh or a LayerNorm gives 1e-3 and more on centred
#: data, so the verdict does not hinge on the precise value.
DEFAULT_RTOL = {torch.float64: 1e-10, torch.float32: 1e-4}

_SMOOTH = (
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.Softplus,
    nn.Softsign,
    nn.LogSigmoid,
    nn.Tanhshrink,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Softmax,
    nn.Softmin,
    nn.LogSoftmax,
)
#: Piecewise linear, but with kinks away from the origin: not homogeneous.
_SATURATING = (nn.Hardtanh, nn.Threshold, nn.Hardshrink, nn.Softshrink)
_NORMS = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.LocalResponseNorm,
)
_ATTENTION = (
    nn.MultiheadAttention,
    nn.Transformer,
    nn.TransformerEncoder,
    nn.TransformerDecoder,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
)
#: Findings of this kind do not make an encoder inexact by themselves.
UNCHECKED = "unchecked layer"


class ExactnessWarning(UserWarning):
    """An encoder's contributions do not sum to its output (``f(x) != J(x) x``)."""


@dataclass(frozen=True)
class Finding:
    """A layer or parameter of the module tree, and what it does to exactness.

    :func:`~glass_box_umap.exactness.scan_encoder` makes them; each parameter is kept as the
    attribute of the same
    name.

    Parameters
    ----------
    path : str
        Dotted name in the module tree (``'net.0'``, ``'net.0.bias'``); ``''`` is the root.
    kind : str
        ``'bias'``, ``'smooth activation'``, ``'saturating activation'``,
        ``'normalisation'``, ``'attention'``, ``'additive constant'``, or
        ``'unchecked layer'`` (a leaf layer the scan does not know: neither good nor bad).
    detail : str
        What the layer is and why it matters.
    """

    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.path or '<root>'}: {self.detail}"


def _module_finding(path: str, module: nn.Module) -> Finding | None:
    name = type(module).__name__
    if isinstance(module, _SMOOTH):
        return Finding(path, "smooth activation", f"{name} is not linear along rays from 0")
    if isinstance(module, _SATURATING):
        return Finding(
            path, "saturating activation", f"{name} has kinks away from 0 (not homogeneous)"
        )
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return Finding(
            path,
            "normalisation",
            f"{name} subtracts a mean and adds a shift; use encoders.layers.ScaleNorm",
        )
    if isinstance(module, _NORMS):
        return Finding(
            path,
            "normalisation",
            f"{name} uses statistics of the sample itself (of degree 0) or a shift; "
            "use encoders.layers.ScaleNorm",
        )
    if isinstance(module, _ATTENTION):
        return Finding(path, "attention", f"{name} multiplies inputs by each other (softmax)")
    if isinstance(module, nn.modules.padding._ConstantPadNd) and module.value != 0:
        return Finding(
            path, "additive constant", f"{name} pads with {module.value}, not with zeros"
        )
    return None


def scan_encoder(module: nn.Module) -> list[Finding]:
    """Layers and parameters of ``module`` that break (or may break) exactness.

    Parameters
    ----------
    module : nn.Module
        The encoder (or any module) to scan; its submodules and parameters are read,
        nothing is run.

    Returns
    -------
    list of Finding
        In module order. A parameter whose name contains ``bias`` is reported unless it
        is frozen at zero; leaf layers of unknown type come as ``'unchecked layer'``.
        Operations written in a ``forward`` method (``x + 1``, ``torch.tanh(x)``) are
        invisible here: :func:`~glass_box_umap.check_exactness` measures them.
    """
    findings: list[Finding] = []
    skipped: list[str] = []
    for path, sub in module.named_modules():
        if any(path == s or path.startswith(s + ".") for s in skipped):
            continue
        finding = _module_finding(path, sub)
        if finding is not None:
            findings.append(finding)
            skipped.append(path)
            continue
        for name, param in sub.named_parameters(recurse=False):
            if "bias" in name and (param.requires_grad or bool(param.detach().any())):
                full = f"{path}.{name}" if path else name
                findings.append(
                    Finding(full, "bias", f"{type(sub).__name__} adds a constant (f(0) != 0)")
                )
        is_leaf = next(sub.children(), None) is None
        if is_leaf and not isinstance(sub, EXACT_MODULES) and path:
            findings.append(
                Finding(path, UNCHECKED, f"{type(sub).__name__} is not a known exact layer")
            )
    return findings


@dataclass(frozen=True)
class ExactnessReport:
    """How far the summed contributions are from the output, per sample and overall.

    The error of sample ``i`` is ``max_k |sum_j C[i, k, j] - f(x_i)[k]|`` (absolute), and
    that divided by ``max_k sum_j |C[i, k, j]|`` (relative): rounding in the sum of the
    contributions is of the order of ``eps * sum_j |C[i, k, j]|``, so this scale is what
    an exact encoder is held to, and it does not explode for samples embedded near 0.
    :func:`~glass_box_umap.check_exactness` makes it; each parameter is kept as the attribute of
    the same
    name.

    Parameters
    ----------
    exact : bool
        The verdict: ``max_rel_error <= rtol`` and no finding other than
        ``'unchecked layer'``.
    rtol : float
        The tolerance used.
    dtype : torch.dtype
        Precision of the evaluation.
    n_samples : int
        The number of samples checked (rows of ``X``).
    max_abs_error, mean_abs_error, max_rel_error, mean_rel_error : float
        The largest and the mean, over the samples, of the absolute and of the relative
        error defined above. A NaN error (a failed forward pass) makes the largest
        errors infinite and the means NaN.
    worst_samples : ndarray of shape (n_worst,), int
        Row indices of ``X`` with the largest relative errors, worst first.
    worst_rel_errors : ndarray of shape (n_worst,), float
        The relative errors of ``worst_samples``, in the same order.
    findings : tuple of Finding
        From :func:`~glass_box_umap.exactness.scan_encoder`.
    """

    exact: bool
    rtol: float
    dtype: torch.dtype
    n_samples: int
    max_abs_error: float
    mean_abs_error: float
    max_rel_error: float
    mean_rel_error: float
    worst_samples: np.ndarray
    worst_rel_errors: np.ndarray
    findings: tuple[Finding, ...]

    @property
    def culprits(self) -> list[Finding]:
        """Findings that break exactness (all but ``'unchecked layer'``)."""
        return [f for f in self.findings if f.kind != UNCHECKED]

    @property
    def verdict(self) -> str:
        """One line: exact or not, the largest relative error and the tolerance."""
        precision = str(self.dtype).removeprefix("torch.")
        cmp = "<=" if self.max_rel_error <= self.rtol else ">"
        line = (
            f"{'exact' if self.exact else 'NOT exact'}: max relative error "
            f"{self.max_rel_error:.2g} {cmp} rtol {self.rtol:.0e} ({precision}, "
            f"{self.n_samples} samples)"
        )
        if not self.exact:
            line += "; probable culprit: " + self.probable_culprit()
        return line

    def probable_culprit(self) -> str:
        """The layers to look at first, in words.

        Returns
        -------
        str
            The culprits' paths and kinds, or where to look when the scan found none.
        """
        culprits = self.culprits
        if not culprits:
            unchecked = [f.path for f in self.findings]
            where = f" or in the unchecked layers {unchecked[:3]}" if unchecked else ""
            return (
                "no layer the scan knows; look for additive constants or non-linear "
                f"operations (x + c, torch.tanh) in forward(){where}"
            )
        shown = "; ".join(f"a {f.kind} at {f.path or '<root>'} ({f.detail})" for f in culprits[:3])
        more = len(culprits) - 3
        return shown + (f"; and {more} more" if more > 0 else "")

    def __str__(self) -> str:
        rows = [
            f"Exactness of f(x) = J(x) x on {self.n_samples} samples "
            f"({str(self.dtype).removeprefix('torch.')})",
            f"  {'error':<9}{'max':>11}{'mean':>11}",
            f"  {'absolute':<9}{self.max_abs_error:>11.3g}{self.mean_abs_error:>11.3g}",
            f"  {'relative':<9}{self.max_rel_error:>11.3g}{self.mean_rel_error:>11.3g}",
            "  worst samples: "
            + ", ".join(
                f"{i} ({e:.2g})"
                for i, e in zip(self.worst_samples, self.worst_rel_errors, strict=True)
            ),
        ]
        rows += [f"  {f}" for f in self.findings]
        rows.append(f"  verdict: {self.verdict}")
        return "\n".join(rows)


def _errors(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute and relative reconstruction error of every row of ``x``, shape (n,) each."""
    contrib, out = contributions(model, x)
    contrib = contrib.flatten(2)
    abs_err = (contrib.sum(-1) - out).abs().amax(-1)
    scale = contrib.abs().sum(-1).amax(-1)
    rel_err = torch.where(
        abs_err == 0, torch.zeros_like(abs_err), abs_err / scale.where(scale > 0, 0.0)
    )
    return abs_err, rel_err


def _module_batches(X: Any, dtype: torch.dtype, size: int) -> Iterator[torch.Tensor]:
    x = X.detach() if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"X: expected a non-empty batch (n, *input_shape), got {tuple(x.shape)}")
    for start in range(0, x.shape[0], size):
        yield x[start : start + size].to(device="cpu", dtype=dtype)


def _fitted_map(obj: Any, X: Any) -> GlassBoxMap | None:
    """The map to check when ``obj`` is a map or a reducer holding one (``map_``), else None.

    A reducer is recognised by its API, so that this module never imports the
    estimator; its feature names are checked against ``X`` as ``transform`` would.
    """
    if isinstance(obj, GlassBoxMap):
        return obj
    if isinstance(obj, nn.Module) or not hasattr(obj, "compute_contributions"):
        return None
    map_ = getattr(obj, "map_", None)
    if not isinstance(map_, GlassBoxMap):
        raise ValueError(
            f"reducer_or_encoder: this {type(obj).__name__} instance is not fitted yet: call "
            "fit(X) before checking it."
        )
    check.check_feature_names(getattr(obj, "feature_names_in_", None), X)
    return map_


def check_exactness(
    reducer_or_encoder: Any,
    X: Any,
    dtype: str | torch.dtype = torch.float64,
    rtol: float | None = None,
    n_worst: int = 5,
    batch_size: int = 4096,
) -> ExactnessReport:
    """Measure how exactly contributions sum to the output, and name what breaks it.

    Parameters
    ----------
    reducer_or_encoder : GlassBoxUMAP, GlassBoxMap or nn.Module
        A fitted reducer or its map (``reducer.map_``: the whole map is checked,
        centring, PCA and encoder) or any encoder module (evaluated on ``X`` as given:
        centre it yourself). None is modified: the check runs on a copy, in eval mode,
        on the CPU.
    X : array-like or Tensor of shape (n_samples, \\*input_shape)
        Raw samples for a reducer or a map; encoder inputs for a module.
    dtype : {'float64', 'float32'} or torch.dtype, default torch.float64
        Precision of the evaluation.
    rtol : float or None
        Tolerance on the largest relative error; ``None`` takes 1e-10 in float64 and
        1e-4 in float32.
    n_worst : int, default 5
        How many of the worst samples to report.
    batch_size : int, default 4096
        Samples evaluated at a time.

    Returns
    -------
    ExactnessReport
        ``print`` it for a table; ``report.exact`` is the verdict.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from glass_box_umap.exactness import check_exactness
    >>> net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    >>> report = check_exactness(net, torch.randn(100, 5))
    >>> report.exact
    False
    >>> [f.kind for f in report.culprits]
    ['bias', 'smooth activation', 'bias']
    """
    torch_dtype = check.resolve_dtype(dtype)
    tol = DEFAULT_RTOL[torch_dtype] if rtol is None else float(rtol)
    if not math.isfinite(tol) or tol < 0:
        raise ValueError(f"rtol: expected a finite number >= 0 or None, got {rtol!r}")
    map_ = _fitted_map(reducer_or_encoder, X)
    if map_ is not None:
        X = map_.check_input(X, owner=type(reducer_or_encoder).__name__)
        scanned = map_.encoder
        model = in_dtype(map_, torch_dtype, always_copy=True)
        pieces = [
            tuple(e[:n] for e in _errors(model, x))
            for n, x in map_.batches(X, torch_dtype, batch_size)
        ]
    elif isinstance(reducer_or_encoder, nn.Module):
        scanned = reducer_or_encoder
        model = in_dtype(scanned, torch_dtype, always_copy=True).cpu()
        pieces = [_errors(model, x) for x in _module_batches(X, torch_dtype, batch_size)]
    else:
        raise TypeError(
            "reducer_or_encoder: expected a GlassBoxUMAP, a GlassBoxMap or an nn.Module, got "
            f"{type(reducer_or_encoder).__name__}"
        )
    abs_err = torch.cat([p[0] for p in pieces]).double().numpy()
    rel_err = torch.cat([p[1] for p in pieces]).double().numpy()
    findings = tuple(scan_encoder(scanned))
    # NaN (a failed forward pass) must not pass for zero: order it as the worst.
    order = np.argsort(-np.nan_to_num(rel_err, nan=np.inf), kind="stable")[:n_worst]
    max_rel = float(np.nan_to_num(rel_err, nan=np.inf).max())
    return ExactnessReport(
        exact=max_rel <= tol and not any(f.kind != UNCHECKED for f in findings),
        rtol=tol,
        dtype=torch_dtype,
        n_samples=len(abs_err),
        max_abs_error=float(np.nan_to_num(abs_err, nan=np.inf).max()),
        mean_abs_error=float(abs_err.mean()),
        max_rel_error=max_rel,
        mean_rel_error=float(rel_err.mean()),
        worst_samples=order,
        worst_rel_errors=rel_err[order],
        findings=findings,
    )


def check_encoder_at_fit(
    encoder: nn.Module, x: torch.Tensor, n_components: int, param: str
) -> ExactnessReport:
    """The fit-time check: output shape, then :func:`~glass_box_umap.check_exactness` in float64.

    Parameters
    ----------
    encoder : nn.Module
        The freshly built encoder (left untouched: the check runs on a copy).
    x : Tensor of shape (m, \\*input_shape)
        A few centred training inputs.
    n_components : int
    param : str
        The parameter that chose the encoder (``'encoder_name'`` or ``'encoder'``), named
        in errors.

    Raises
    ------
    ValueError
        Naming ``param`` when the encoder fails on ``x`` or maps it to a shape other
        than (m, n_components).
    """
    probe = in_dtype(encoder, torch.float64, always_copy=True).cpu()
    try:
        with torch.no_grad():
            out = probe(x.to(torch.float64))
    except RuntimeError as err:
        raise ValueError(
            f"{param}: the encoder fails on inputs of shape {tuple(x.shape)}: {err}"
        ) from err
    if tuple(out.shape) != (x.shape[0], n_components):
        raise ValueError(
            f"{param}: the encoder maps inputs of shape {tuple(x.shape)} to "
            f"{tuple(out.shape)}; expected ({x.shape[0]}, n_components={n_components})"
        )
    return check_exactness(encoder, x, torch.float64)


#: Training inputs the fit-time check runs on (in float64; a few milliseconds).
FIT_CHECK_SAMPLES = 64


def warn_if_inexact(
    encoder: nn.Module, inputs: torch.Tensor, n_components: int, param: str
) -> ExactnessReport:
    """The fit-time check of a custom encoder on a few training inputs; warns if inexact.

    Shipped encoders are exact by construction (and tested); the estimator runs this for
    the others, on the freshly initialised weights, so that no training time is spent on
    an encoder whose contributions would not sum to the embedding.

    Parameters
    ----------
    encoder : nn.Module
        The freshly initialised encoder (left untouched: the check runs on a copy).
    inputs : Tensor of shape (n, \\*input_shape)
        Encoder inputs (centred, projected); ``FIT_CHECK_SAMPLES`` of them, spread
        over the rows, are checked.
    n_components : int
        The embedding's dimension: the encoder must map the inputs to
        (n, n_components).
    param : str
        The parameter that chose the encoder, named in the warning and errors.

    Returns
    -------
    ExactnessReport
        The check's report (an ``ExactnessWarning`` was issued if it is not exact).
    """
    rows = np.unique(np.linspace(0, len(inputs) - 1, FIT_CHECK_SAMPLES).astype(np.int64))
    report = check_encoder_at_fit(encoder, inputs[rows], n_components, param)
    if not report.exact:
        warnings.warn(
            f"{param}: the encoder is not exact, so contributions will not sum to the "
            f"embedding ({report.verdict}). See glass_box_umap.exactness.check_exactness "
            "and the exact building blocks in glass_box_umap.encoders.layers.",
            ExactnessWarning,
            stacklevel=3,
        )
    return report


__all__ = [
    "DEFAULT_RTOL",
    "ExactnessReport",
    "ExactnessWarning",
    "Finding",
    "check_exactness",
    "scan_encoder",
    "warn_if_inexact",
]
