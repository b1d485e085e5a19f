"""Optimizers by name or instance, and their state as safetensors + JSON (no pickle).

Names: ``sgd`` (with ``momentum``, ``nesterov``), ``adam``, ``adamw``, ``rmsprop``, ``adagrad``.
Pass a name with ``lr=...`` to ``compile``, an :class:`OptimizerSpec` such as
``Adam(lr=1e-3)`` (saved with the model and restored by ``load_model``), or a built
``torch.optim.Optimizer`` over the model's parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import torch
from torch import Tensor

from ..errors import SeqlabError


@dataclass
class OptimizerSpec:
    """A serialisable recipe for a torch optimizer: ``name`` and keyword arguments."""

    name: str
    lr: float
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[self.name]
        try:
            return cls(params, lr=self.lr, **self.kwargs)
        except (TypeError, ValueError) as exc:
            raise SeqlabError(f"optimizer: bad arguments for {self.name}: {exc}") from exc

    def to_config(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}


def SGD(lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> OptimizerSpec:
    return OptimizerSpec("sgd", lr, {"momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay})


def Adam(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7,
         weight_decay: float = 0.0) -> OptimizerSpec:
    return OptimizerSpec("adam", lr, {"betas": list(betas), "eps": eps, "weight_decay": weight_decay})


def AdamW(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7,
          weight_decay: float = 0.01) -> OptimizerSpec:
    return OptimizerSpec("adamw", lr, {"betas": list(betas), "eps": eps, "weight_decay": weight_decay})


def RMSprop(lr: float = 1e-3, alpha: float = 0.9, eps: float = 1e-7, momentum: float = 0.0) -> OptimizerSpec:
    return OptimizerSpec("rmsprop", lr, {"alpha": alpha, "eps": eps, "momentum": momentum})


def Adagrad(lr: float = 1e-2, eps: float = 1e-7) -> OptimizerSpec:
    return OptimizerSpec("adagrad", lr, {"eps": eps})


_FACTORIES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get_optimizer(spec: str | OptimizerSpec | torch.optim.Optimizer, lr: float | None = None,
                  **kwargs: Any) -> OptimizerSpec | torch.optim.Optimizer:
    """An :class:`OptimizerSpec` from a name (``lr`` and extra kwargs such as ``momentum``), or
    ``spec`` itself for a spec or a torch optimizer."""
    if isinstance(spec, torch.optim.Optimizer):
        if lr is not None:
            for g in spec.param_groups:
                g["lr"] = lr
        return spec
    if isinstance(spec, OptimizerSpec):
        return spec if lr is None else OptimizerSpec(spec.name, float(lr), dict(spec.kwargs))
    if isinstance(spec, str) and spec.lower() in _FACTORIES:
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
            raise SeqlabError(f"lr: expected a positive learning rate, got {lr!r}")
        fac = _FACTORIES[spec.lower()]
        try:
            return fac(**({"lr": float(lr)} if lr is not None else {}), **kwargs)
        except TypeError as exc:
            raise SeqlabError(f"optimizer: {exc}; see seqlab.train.optimizers.{fac.__name__}") from exc
    raise SeqlabError(
        f"optimizer: unknown optimizer {spec!r}; valid names: {', '.join(_FACTORIES)}, "
        "or a torch.optim.Optimizer instance"
    )


# -- state to and from a file ------------------------------------------------------------------
def state_to_file(opt: torch.optim.Optimizer, prefix: str = "optimizer/") -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Split ``opt.state_dict()`` into JSON (param groups, scalars) and tensors (named by prefix)."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            if isinstance(val, Tensor):
                tensors[f"{prefix}{pid}/{key}"] = val
            else:
                scalars.setdefault(str(pid), {})[key] = val
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return {"class": type(opt).__name__, "param_groups": groups, "scalars": scalars}, tensors


def state_from_file(opt: torch.optim.Optimizer, config: dict[str, Any], tensors: dict[str, Tensor],
                    prefix: str = "optimizer/") -> None:
    """Load what :func:`state_to_file` wrote into ``opt`` (same class, same parameters)."""
    if config.get("class") != type(opt).__name__:
        raise SeqlabError(f"optimizer state: saved for {config.get('class')}, the model uses {type(opt).__name__}")
    state: dict[int, dict[str, Any]] = {}
    for name, val in tensors.items():
        if name.startswith(prefix):
            pid, key = name[len(prefix):].split("/", 1)
            state.setdefault(int(pid), {})[key] = val
    for pid, d in config.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(d)
    groups = []
    for g in config["param_groups"]:
        g = dict(g)
        if "betas" in g and isinstance(g["betas"], list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": state, "param_groups": groups})
