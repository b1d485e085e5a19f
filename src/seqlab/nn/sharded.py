"""Data parallelism over threads inside one process: a batch cut into shares, each share's forward
and backward run start to end by its own worker thread with one intra-op thread.

torch's own intra-op threads split every operation of a step: for a small recurrent model that
is hundreds of parallel regions per step, each ending at a barrier, with the threads spinning in
between. Each share here runs the whole model (fused kernels included) on its rows, so nothing
waits for anything until the shares are done: less CPU time and less wall time per step
(measured on a language model: docs/generate.md, "Model").

:func:`sharded` runs ``fn`` on shares of its batch as one autograd node: the forward keeps each
share's graph (built in its worker), and the backward sends each share its slice of the output
gradients and runs ``torch.autograd.grad`` on that graph in the same worker, then adds up the
parameter gradients (and concatenates those of the inputs). Results equal the unsharded call up
to the order of floating-point additions (tested). Randomness inside ``fn`` (dropout) would be
drawn by the workers in an order that varies: callers shard only what draws no random numbers.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from . import _workers


class _Sharded(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, n, in_dims, out_dims, n_in, *args):
        inputs, params = args[:n_in], args[n_in:]
        B = inputs[0].shape[in_dims[0]]
        # autocast is per thread too: the shares run under the caller's
        dev = inputs[0].device.type
        amp = torch.is_autocast_enabled(dev)
        amp_dtype = torch.get_autocast_dtype(dev) if amp else None

        def share(lo: int, hi: int):
            sub = [None if t is None else t.narrow(d, lo, hi - lo) for t, d in zip(inputs, in_dims)]
            sub = [s.detach().requires_grad_() if s is not None and s.requires_grad else s for s in sub]
            with torch.autocast(dev, dtype=amp_dtype, enabled=amp):
                outs = fn(*sub)
            return lo, hi, sub, outs

        # autograd.Function.forward runs without grad; the shares record their own graphs
        results = _workers.run(share, B, n, grad=any(ctx.needs_input_grad))
        ctx.fn_results, ctx.in_dims, ctx.out_dims, ctx.params = results, in_dims, out_dims, params
        outs = [torch.cat([r[3][k].detach() for r in results], out_dims[k]) for k in range(len(out_dims))]
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        results, params = ctx.fn_results, ctx.params
        ctx.fn_results = None  # the shares' graphs go with this pass

        def share(i: int, _: int):
            lo, hi, sub, outs = results[i]
            gs = [g.narrow(d, lo, hi - lo) for g, d in zip(grads, ctx.out_dims)]
            pairs = [(o, g) for o, g in zip(outs, gs) if o.requires_grad]
            wrt = [p for p in params if p.requires_grad] + [s for s in sub if s is not None and s.requires_grad]
            got = torch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs], allow_unused=True)
            return got

        shares = _workers.run(share, len(results), len(results), grad=False)
        wanted = [p for p in params if p.requires_grad]
        n_p = len(wanted)
        pgrads = iter([_add([s[k] for s in shares]) for k in range(n_p)])
        param_grads = [next(pgrads) if p.requires_grad else None for p in params]
        input_grads = []
        k = n_p
        for j, d in enumerate(ctx.in_dims):
            parts = [results[i][2][j] for i in range(len(results))]
            if parts[0] is not None and parts[0].requires_grad:
                gs = [s[k] for s in shares]
                input_grads.append(torch.cat([torch.zeros_like(p) if g is None else g for g, p in zip(gs, parts)], d))
                k += 1
            else:
                input_grads.append(None)
        return (None, None, None, None, None, *input_grads, *param_grads)


def _add(parts: list[Tensor | None]) -> Tensor | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    total = parts[0].clone()
    for p in parts[1:]:
        total += p
    return total


def sharded(fn: Callable[..., Sequence[Tensor]], inputs: Sequence[Tensor | None], in_dims: Sequence[int],
            out_dims: Sequence[int], params: Sequence[Tensor], n: int) -> tuple[Tensor, ...]:
    """``fn(*inputs)`` computed on ``n`` shares of the batch in parallel worker threads, as one
    autograd node: ``inputs[i]`` has its batch on axis ``in_dims[i]`` (None entries pass
    through as None; the first input must be a tensor), ``fn`` returns tensors with their batch
    on ``out_dims``; ``params`` are every tensor ``fn`` uses besides its inputs that may need a
    gradient (a module's parameters). Returns the outputs concatenated over the shares."""
    inputs = list(inputs)
    return _Sharded.apply(fn, n, tuple(in_dims), tuple(out_dims), len(inputs), *inputs, *params)


def shares(batch: int, min_rows: int = 8) -> int:
    """Shares for a batch of ``batch`` rows: torch's intra-op threads (:func:`seqlab.nn._workers.shares`),
    with at least ``min_rows`` rows in each; 1 means: call ``fn`` directly."""
    return min(_workers.shares(batch), max(1, batch // min_rows))
