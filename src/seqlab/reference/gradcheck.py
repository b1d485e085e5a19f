"""Finite-difference gradient checks for the reference cells (and any function of arrays).

:func:`numerical_gradient` perturbs one entry at a time by ±eps (central differences, error
O(eps²)). :func:`gradient_check` takes a reference forward and its backward, builds a random
linear loss ``L = Σ dout ⊙ out + Σ dstate ⊙ final_state`` (so dL/d out = dout, exactly what a
backward takes) and reports, for every parameter, the input and the initial state, the relative
error ``max|analytic - numeric| / max(max|analytic|, max|numeric|)``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import SeqlabError


def numerical_gradient(f: Callable[[], float], a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dL/da by central differences; ``f()`` must read ``a`` (a float64 array), changed in place."""
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        raise SeqlabError(f"a: expected a float64 numpy array (perturbed in place), got {type(a).__name__}")
    if not eps > 0:
        raise SeqlabError(f"eps: expected a positive step, got {eps!r}")
    grad = np.zeros_like(a)
    flat, gflat = a.reshape(-1), grad.reshape(-1)  # views: (a.size,)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        up = f()
        flat[j] = old - eps
        down = f()
        flat[j] = old
        gflat[j] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic: Any, numeric: Any) -> float:
    """``max|a - n| / max(max|a|, max|n|)`` (0.0 when both are zero)."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise SeqlabError(f"analytic: expected shape {n.shape} (the numeric gradient's), got {a.shape}")
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(a - n).max() / scale)


def _leaves(tree: Any) -> list[np.ndarray]:
    return list(tree) if isinstance(tree, (tuple, list)) else [tree]


def gradient_check(forward: Callable, backward: Callable, x: Any, params: Any, state: Any = None,
                   lengths: Any = None, eps: float = 1e-6, seed: int = 0, **options) -> dict[str, float]:
    """Compare ``backward`` with finite differences of ``forward``; returns ``{name: relative error}``.

    ``forward(x, params, state, lengths, **options) -> (out, final_state, cache)`` and
    ``backward(dout, dstate, cache) -> (grads, dx, dstate0)``, as the reference cells and
    ``functools.partial(stacked_forward, cell)`` / ``stacked_backward`` are. ``params`` is one
    dict of arrays or a list of them. The initial state is checked when ``state`` is given.
    """
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64)
    dicts = [params] if isinstance(params, dict) else list(params)
    dicts = [{k: np.array(v, dtype=np.float64) for k, v in d.items() if v is not None} for d in dicts]
    ps = dicts[0] if isinstance(params, dict) else dicts
    st = None if state is None else (
        tuple(np.array(s, dtype=np.float64) for s in state) if isinstance(state, (tuple, list))
        else np.array(state, dtype=np.float64))

    out, final, cache = forward(x, ps, st, lengths, **options)
    dout = rng.standard_normal(out.shape)
    dfinal = [rng.standard_normal(f.shape) for f in _leaves(final)]
    dstate = tuple(dfinal) if isinstance(final, tuple) else dfinal[0]
    grads, dx, dstate0 = backward(dout, dstate, cache)

    def loss() -> float:
        o, f, _ = forward(x, ps, st, lengths, **options)
        return float((dout * o).sum() + sum((d * s).sum() for d, s in zip(dfinal, _leaves(f))))

    report = {"x": relative_error(dx, numerical_gradient(loss, x, eps))}
    gs = [grads] if isinstance(params, dict) else grads
    for k, (d, g) in enumerate(zip(dicts, gs)):
        for name, arr in d.items():
            key = name if isinstance(params, dict) else f"cells[{k}].{name}"
            report[key] = relative_error(g[name], numerical_gradient(loss, arr, eps))
    if st is not None:
        for j, (s, ds) in enumerate(zip(_leaves(st), _leaves(dstate0))):
            key = f"state[{j}]" if isinstance(st, tuple) else "state"
            report[key] = relative_error(ds, numerical_gradient(loss, s, eps))
    return report


def model_gradient_check(params: dict, config: Any, inputs: Any, targets: Any, state: Any = None,
                         eps: float = 1e-6) -> dict[str, float]:
    """The whole network of :mod:`seqlab.reference.net` (input layer, cells, output layer, loss)
    against finite differences of its loss: ``{parameter name or 'state[j]': relative error}``."""
    from .net import loss_and_dy, net_backward, net_forward

    ps = {n: np.array(a, dtype=np.float64) for n, a in params.items()}
    st = None if state is None else tuple(np.array(s, dtype=np.float64) for s in _leaves(state))
    as_state = (lambda s: s) if isinstance(state, (tuple, list)) else (lambda s: s if s is None else s[0])

    def loss() -> float:
        return loss_and_dy(config, net_forward(ps, config, inputs, as_state(st))[0], targets)[0]

    y, _, cache = net_forward(ps, config, inputs, as_state(st))
    grads, dstate0 = net_backward(ps, config, loss_and_dy(config, y, targets)[1], cache)
    report = {n: relative_error(grads[n], numerical_gradient(loss, a, eps)) for n, a in ps.items()}
    for j, (s, ds) in enumerate(zip(st or (), _leaves(dstate0))):
        report[f"state[{j}]"] = relative_error(ds, numerical_gradient(loss, s, eps))
    return report
