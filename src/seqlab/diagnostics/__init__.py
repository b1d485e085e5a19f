"""Diagnostics: vanishing gradients, long-range memory, gates and hidden states, made visible.

* :func:`gradient_flow`: ||dL/dh_t|| at every step of every recurrent layer, and ||dL/dx_t||.
* :func:`gate_statistics`: mean and saturated fraction of every LSTM / GRU gate over a batch.
* :func:`collect_states`, :func:`plot_states`, :func:`text_activation_html`,
  :func:`plot_text_activations`: hidden and cell states over time, and units over a text.
* :class:`GradientNormRecorder`: the gradient norm at every training step, before and after clipping.
* :mod:`seqlab.diagnostics.tasks`: the adding problem and copy memory, with their baselines;
  :func:`train_memory` trains a cell on them.
* :func:`scale_recurrent_weights`: recurrent matrices at a chosen spectral radius (exploding
  gradients above 1); :func:`clipping_comparison`: SGD with and without clipping by norm.
* :func:`capacity_experiment`: one small job at several hidden sizes, dropout rates and L2
  factors (a grid, or an Optuna search), training and validation loss per epoch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

# Imported on first use, so that `seqlab --help` (which imports seqlab.diagnostics.cli) stays fast.
_LAZY = {
    "GateStats": "gates", "gate_statistics": "gates",
    "GradientFlow": "gradients", "default_loss": "gradients", "gradient_flow": "gradients",
    "scale_recurrent_weights": "gradients", "spectral_radius": "gradients",
    "ClipComparison": "clipping", "ClipRun": "clipping", "clipping_comparison": "clipping",
    "CapacityConfig": "capacity", "CapacityResult": "capacity", "capacity_experiment": "capacity",
    "GradientNormRecorder": "gradnorm", "grad_norm": "gradnorm",
    "collect_states": "states", "plot_states": "states", "plot_text_activations": "states",
    "text_activation_html": "states",
    "adding_problem": "tasks", "baseline": "tasks", "copy_baseline": "tasks", "copy_memory": "tasks",
    "MemoryConfig": "memory", "MemoryModel": "memory", "MemoryResult": "memory", "train_memory": "memory",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "CapacityConfig", "CapacityResult", "ClipComparison", "ClipRun", "capacity_experiment", "clipping_comparison",
    "scale_recurrent_weights", "spectral_radius",
    "GateStats", "GradientFlow", "GradientNormRecorder", "MemoryConfig", "MemoryModel", "MemoryResult",
    "adding_problem", "baseline", "collect_states", "copy_baseline", "copy_memory", "default_loss",
    "gate_statistics", "grad_norm", "gradient_flow", "plot_states", "plot_text_activations",
    "text_activation_html", "train_memory",
]
