"""Split conformal calibration of the quantile intervals, per horizon step, and interval scores.

The network's outer quantiles (0.1 and 0.9 by default) give an interval [lo, hi] whose nominal
coverage (80 %) a small model trained on little data rarely meets. Conformalized quantile
regression (Romano, Patterson & Candes 2019) corrects it from forecasts whose actual values are
known and that the model did not train on: the backtest's. The score of an actual value y is how
far it falls outside the interval, in units of the interval's width (so that series of any
magnitude and every horizon step share one scale)::

    e = max(lo - y, y - hi) / (hi - lo)

For horizon step h the correction ``q_h`` is the ``ceil((n + 1)(1 - alpha))``-th smallest of
the n scores of that step (alpha = 1 - nominal coverage), and the calibrated
interval is ``[lo - q_h (hi - lo), hi + q_h (hi - lo)]``: wider when the model was
overconfident (q > 0), narrower when it was too cautious (q < 0). With exchangeable scores it
covers at least the nominal share of new values. When a step has too few scores for that
quantile (fewer than ``1 / alpha - 1``: a single series with three backtest origins has three
per step), the scores of every step are pooled.
"""

from __future__ import annotations

import math

import numpy as np


def scores(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Conformity scores (N, H) of actual values (N, H) against intervals (N, H); NaN stays NaN."""
    a, lo, hi = (np.asarray(v, dtype=np.float64) for v in (actual, lo, hi))
    width = np.maximum(hi - lo, 1e-12 * np.maximum(1.0, np.abs(hi)))
    return np.maximum(lo - a, a - hi) / width


def _kth(values: np.ndarray, alpha: float) -> float | None:
    """The ceil((n + 1)(1 - alpha))-th smallest of n values, None when that exceeds n."""
    n = len(values)
    k = math.ceil((n + 1) * (1 - alpha) - 1e-9)
    return None if n == 0 or k > n else float(np.sort(values)[k - 1])


def calibrate(score: np.ndarray, alpha: float) -> np.ndarray:
    """Per-step corrections q (H,) from scores (N, H) (NaN: no value); pooled over the steps
    where a step has too few scores; +inf when even the pool is too small."""
    score = np.asarray(score, dtype=np.float64)
    pooled = _kth(score[np.isfinite(score)], alpha)
    out = np.full(score.shape[1], math.inf if pooled is None else pooled)
    for h in range(score.shape[1]):
        q = _kth(score[:, h][np.isfinite(score[:, h])], alpha)
        if q is not None:
            out[h] = q
    return out


def widen(pred: np.ndarray, q: np.ndarray, mid: int) -> np.ndarray:
    """Apply corrections q (H,) to quantile forecasts pred (S, H, Q): the outer pair moves out by
    q times its width (in by -q), never past the median."""
    pred = np.array(pred, dtype=np.float64)
    lo, hi, med = pred[..., 0], pred[..., -1], pred[..., mid]
    w = hi - lo
    q = np.where(np.isfinite(q), q, 1e6)[None, :]  # (1, H)
    pred[..., 0] = np.minimum(lo - q * w, med)
    pred[..., -1] = np.maximum(hi + q * w, med)
    return pred


def interval_stats(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray, alpha: float,
                   scale: np.ndarray | None = None) -> dict[str, float]:
    """Empirical coverage (share of actual values inside), mean width and mean Winkler score
    (width plus 2/alpha times the distance of a value outside the interval; lower is better)
    of intervals at nominal coverage 1 - alpha. With ``scale`` (N,) (each series' MASE scale),
    width and Winkler are in those units, comparable across series."""
    a, lo, hi = (np.asarray(v, dtype=np.float64) for v in (actual, lo, hi))
    ok = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
    width = hi - lo
    wink = width + (2 / alpha) * (np.maximum(lo - a, 0) + np.maximum(a - hi, 0))
    if scale is not None:
        s = np.asarray(scale, dtype=np.float64).reshape(-1, *([1] * (a.ndim - 1)))
        width, wink = width / s, wink / s
        ok &= np.isfinite(width)
    if not ok.any():
        return {"coverage": math.nan, "width": math.nan, "winkler": math.nan}
    inside = (a >= lo) & (a <= hi)
    return {"coverage": float(inside[ok].mean()), "width": float(width[ok].mean()), "winkler": float(wink[ok].mean())}


def cross_calibrated(score_by_origin: list[np.ndarray], alpha: float) -> list[np.ndarray | None]:
    """For each origin, the corrections calibrated on the other origins' scores (None with one
    origin): an honest estimate of the calibrated intervals' coverage on the backtest."""
    out = []
    for k in range(len(score_by_origin)):
        rest = [s for j, s in enumerate(score_by_origin) if j != k]
        out.append(calibrate(np.concatenate(rest), alpha) if rest else None)
    return out


# -- point forecasts (the baselines): intervals from absolute errors -------------------------------
def abs_scores(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Absolute errors ``|y - f|`` (N, H) of point forecasts (N, H), divided by ``scale`` (N,)
    where given (each series' MASE scale, so that the series of a panel share one calibration);
    NaN stays NaN, and so does the score of a row whose scale is not a positive number."""
    a, f = (np.asarray(v, dtype=np.float64) for v in (actual, forecast))
    s = np.abs(a - f)
    if scale is not None:
        sc = np.asarray(scale, dtype=np.float64).reshape(-1, *([1] * (s.ndim - 1)))
        s = np.where(np.isfinite(sc) & (sc > 0), s / np.where(sc > 0, sc, 1.0), np.nan)
    return s


def residual_offsets(score: np.ndarray, quantiles: list[float]) -> tuple[np.ndarray, bool]:
    """Signed offsets (Q, H) from a point forecast to each of ``quantiles``, in the units of the
    absolute-error scores (N, H) (NaN: no value): split conformal per horizon step, quantile tau at
    ``-q`` (tau < 0.5) or ``+q`` (tau > 0.5) where q is the :func:`calibrate` correction at
    coverage ``|2 tau - 1|`` (the median 0), so that the pair (tau, 1 - tau) is an interval of
    nominal coverage ``1 - 2 tau``: for the outer pair 0.1 and 0.9, 80 %, as the model's. A step
    with too few scores takes the pool of every step's, as :func:`calibrate`; when even the pool is
    too small the offset is the largest score (the widest error seen), and the second value is True."""
    score = np.asarray(score, dtype=np.float64)
    finite = score[np.isfinite(score)]
    widest = float(finite.max()) if finite.size else 0.0
    out = np.zeros((len(quantiles), score.shape[1]))
    too_few = False
    for j, tau in enumerate(quantiles):
        if tau == 0.5:
            continue
        q = calibrate(score, 1 - abs(2 * tau - 1))
        if not np.all(np.isfinite(q)):
            too_few = True
            q = np.where(np.isfinite(q), q, widest)
        out[j] = np.sign(tau - 0.5) * np.maximum(q, 0.0)
    return out, too_few
