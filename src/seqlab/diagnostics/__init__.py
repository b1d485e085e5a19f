"""Diagnostics: vanishing gradients, long-range memory, gates and hidden states, made visible.

* :func:`gradient_flow`: ||dL/dh_t|| at every step of every recurrent layer, and ||dL/dx_t||.
* :func:`gate_statistics`: mean and saturated fraction of every LSTM / GRU gate over a batch.
* :func:`collect_states`, :func:`plot_states`, :func:`text_activation_html`,
  :func:`plot_text_activations`: hidden and cell states over time, and units over a text.
* :class:`GradientNormRecorder`: the gradient norm at every training step, before and after clipping.
* :mod:`seqlab.diagnostics.tasks`: the adding problem and copy memory, with their baselines;
  :func:`train_memory` trains a cell on them.
"""

from .gates import GateStats, gate_statistics
from .gradients import GradientFlow, default_loss, gradient_flow
from .recorder import GradientNormRecorder, grad_norm
from .states import collect_states, plot_states, plot_text_activations, text_activation_html
from .tasks import adding_problem, baseline, copy_baseline, copy_memory
from .memory import MemoryConfig, MemoryModel, MemoryResult, train_memory

__all__ = [
    "GateStats", "GradientFlow", "GradientNormRecorder", "MemoryConfig", "MemoryModel", "MemoryResult",
    "adding_problem", "baseline", "collect_states", "copy_baseline", "copy_memory", "default_loss",
    "gate_statistics", "grad_norm", "gradient_flow", "plot_states", "plot_text_activations",
    "text_activation_html", "train_memory",
]
