"""``Sequential``: a stack of layers with compile, fit, evaluate, predict, save; and ``load_model``.

``Sequential`` is an ordinary ``torch.nn.Module`` (``model(x)`` runs the layers), so it works
inside any PyTorch code; the training engine lives in :mod:`seqlab.train.engine`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from . import io
from .errors import ModelFileError, SeqlabError, check_positive_int
from .layers import Dense, Embedding, Layer, RecurrentLayer, deserialize, serialize
from .train import engine
from .train.callbacks import Callback
from .train.distributed import is_main_process
from .train.history import History
from .train.losses import Loss, get_loss
from .train.metrics import get_metric
from .train.optimizers import OptimizerSpec, get_optimizer, state_from_file, state_to_file

KIND = "sequential"
WEIGHTS_KIND = "sequential-weights"  # save_weights' files: the weights alone


class Sequential(nn.Module):
    """Layers applied one after the other; a padding mask from ``Embedding(mask_zero=True)``
    travels with the data to the recurrent layers.

    >>> model = Sequential([LSTM(50, input_shape=(20, 3)), Dropout(0.2), Dense(1)])
    >>> model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    >>> history = model.fit(x, y, epochs=10, batch_size=32, validation_split=0.2)
    """

    def __init__(self, layers: Sequence[nn.Module] | None = None, name: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.layers = nn.ModuleList()
        self.input_shape: tuple | None = None  # (None, ...) once built
        self.built = False
        self.loss_fn: Loss | None = None
        self.metric_fns: list = []
        self.optimizer: torch.optim.Optimizer | None = None
        self._opt_spec: OptimizerSpec | torch.optim.Optimizer | None = None
        self._compile_config: dict | None = None
        self._pending_opt_state: tuple[dict, dict] | None = None
        self.stop_training = False
        self.history: History | None = None
        self.epochs_trained = 0
        self.clipnorm: float | None = None  # a Keras-style optimizer's clipnorm, used by fit
        self._metrics_checked = False
        for layer in layers or []:
            self.add(layer)

    # -- building ------------------------------------------------------------------------------
    def add(self, layer: nn.Module) -> None:
        """Append ``layer``; the first layer's ``input_shape`` builds the whole model at once."""
        if not isinstance(layer, nn.Module):
            raise SeqlabError(f"layer: expected a seqlab layer or torch.nn.Module, got {type(layer).__name__}")
        if isinstance(layer, RecurrentLayer) and layer.return_state:
            raise SeqlabError("layer: return_state=True layers return a tuple and cannot be stacked in a Sequential; "
                              "call the layer from your own nn.Module")
        if len(self.layers) and isinstance(layer, Layer) and layer.input_shape is not None:
            raise SeqlabError("input_shape: only the first layer of a Sequential takes input_shape")
        self.layers.append(layer)
        if len(self.layers) == 1 and isinstance(layer, Layer) and layer.input_shape is not None:
            self.build((None,) + tuple(layer.input_shape))
        elif self.built:
            self.build(self.input_shape)

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create all parameters for inputs of ``input_shape`` (batch axis first, e.g. (None, T, F))."""
        shape = tuple(input_shape)
        self.input_shape = shape
        for layer in self.layers:
            if not isinstance(layer, Layer):
                break  # a plain torch module: the layers after it build at the first call
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = all(not isinstance(l, Layer) or l.built for l in self.layers)

    def untouched_since_build(self) -> bool:
        """True when the model was never trained and every built layer still has the weights it
        was built with (none loaded or set): its initial weights can be drawn again from a seed."""
        return self.epochs_trained == 0 and all(
            isinstance(l, Layer) and (not l.built or l.untouched_since_build()) for l in self.layers)

    @torch.no_grad()
    def reinitialize(self) -> bool:
        """Draw the initial weights again from torch's global generator, exactly as constructing and
        building the layers now would (fresh layers of the same configs, built in order, copied in
        place so that an optimizer over the parameters stays valid). False when a layer is not a
        seqlab layer that can be rebuilt from its config (nothing is changed then)."""
        if not self.built or self.input_shape is None or not all(isinstance(l, Layer) for l in self.layers):
            return False
        try:
            specs = [serialize(layer) for layer in self.layers]
            for spec in specs:  # built below, in order, as Sequential.build does (not at construction)
                spec["config"] = {k: v for k, v in spec["config"].items() if k != "input_shape"}
            fresh = [deserialize(spec) for spec in specs]
        except (SeqlabError, TypeError, ValueError, KeyError):
            return False
        shape = self.input_shape
        for layer in fresh:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        for old, new in zip(self.layers, fresh):
            old.load_state_dict(new.state_dict())
            old.built = True  # the digest of the weights drawn now
        return True

    @torch.no_grad()
    def build_from(self, x: Tensor) -> None:
        """Build the layers by running a sample batch ``x`` through them (in eval mode)."""
        was = self.training
        self.eval()
        try:
            self(x)
        finally:
            self.train(was)

    def output_shapes(self) -> list[tuple]:
        if not self.built:
            raise SeqlabError("model: not built yet; give the first layer input_shape=(timesteps, features), "
                              "call model.build((None, timesteps, features)) or fit it first")
        shapes, shape = [], self.input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape) if isinstance(layer, Layer) else ("?",)
            shapes.append(shape)
        return shapes

    def takes_ids(self) -> bool:
        """Whether the first layer takes integer ids (an embedding); other models take integer
        arrays as numbers, converted to floats (as Keras does)."""
        first = self.layers[0] if len(self.layers) else None
        return isinstance(first, (Embedding, nn.Embedding))

    def param_dtype(self) -> torch.dtype:
        for p in self.parameters():
            return p.dtype if p.dtype.is_floating_point else torch.get_default_dtype()
        return torch.get_default_dtype()

    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def regularization_loss(self) -> Tensor | None:
        """The sum of every layer's regularizer penalties (``kernel_regularizer`` and the like), or
        None when no layer has one; ``fit`` adds it to each training step's loss."""
        terms = [t for m in self.modules() if isinstance(m, Layer) for t in [m.regularization_loss()] if t is not None]
        return torch.stack(terms).sum() if terms else None

    def reset_states(self) -> None:
        """Forget the carried state of every stateful recurrent layer."""
        for m in self.modules():
            if isinstance(m, RecurrentLayer):
                m.reset_states()

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        """SeqlabError unless ``shape`` (batch first) fits the built input shape."""
        want = self.input_shape
        if want is None:
            return
        if len(self.layers) and isinstance(self.layers[0], Embedding):
            want = tuple(None for _ in want)  # ids (batch, time): any length
        if len(shape) != len(want) or (want[-1] is not None and len(shape) > 1 and shape[-1] != want[-1]):
            shown = "(batch, " + ", ".join("any" if s is None else str(s) for s in want[1:]) + ")"
            raise SeqlabError(f"{name}: the model expects inputs of shape {shown}, got {tuple(shape)}")

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: Tensor, mask: Tensor | None = None, return_logits: bool = False,
                return_mask: bool = False) -> Tensor | tuple[Tensor, Tensor | None]:
        """Run the layers. ``return_logits=True`` skips the last Dense layer's activation;
        ``return_mask=True`` returns ``(output, mask)``, the padding mask (B, T) of a sequence
        output (None where there is none)."""
        if not len(self.layers):
            raise SeqlabError("model: has no layers; add some with model.add(...)")
        if self.input_shape is None:
            # time and other middle axes may vary between calls: only the feature axis is fixed
            self.build((None,) + (None,) * (x.dim() - 2) + (x.shape[-1],) if x.dim() > 1 else (None,))
        else:
            self.check_input_shape(tuple(x.shape))
        n = len(self.layers)
        for k, layer in enumerate(self.layers):
            if isinstance(layer, Layer):
                if k == n - 1 and return_logits and isinstance(layer, Dense):
                    x, mask = layer.call_masked(x, mask, return_logits=True)
                else:
                    x, mask = layer.call_masked(x, mask)
            else:
                x = layer(x)
        if not self.built:
            self.built = all(not isinstance(l, Layer) or l.built for l in self.layers)
        return (x, mask) if return_mask else x

    # -- summary -------------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] | None = print) -> str:
        """A table of layers, output shapes and parameter counts; printed and returned."""
        shapes = self.output_shapes()
        rows = []
        for k, (layer, shape) in enumerate(zip(self.layers, shapes)):
            nm = getattr(layer, "name", None) or f"{type(layer).__name__.lower()}_{k}"
            rows.append((f"{nm} ({type(layer).__name__})", str(tuple(shape)).replace("None", "None"),
                         f"{sum(p.numel() for p in layer.parameters()):,}"))
        head = ("Layer (type)", "Output Shape", "Param #")
        w = [max(len(r[i]) for r in rows + [head]) + 2 for i in range(3)]
        line = lambda r: r[0].ljust(w[0]) + r[1].ljust(w[1]) + r[2].rjust(w[2])  # noqa: E731
        total = self.count_params()
        train = sum(p.numel() for p in self.parameters() if p.requires_grad)
        sep = "=" * sum(w)
        out = [f'Model: "{self.name or "sequential"}"', sep, line(head), sep]
        out += [line(r) for r in rows]
        out += [sep, f"Total params: {total:,}", f"Trainable params: {train:,}",
                f"Non-trainable params: {total - train:,}", sep]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    # -- compile / fit / evaluate / predict ----------------------------------------------------
    def compile(self, loss: str | Callable[[Tensor, Tensor], Tensor] = "mse",
                optimizer: str | OptimizerSpec | torch.optim.Optimizer = "adam",
                metrics: Sequence[str] | None = None, lr: float | None = None,
                learning_rate: float | None = None, **optimizer_kwargs: Any) -> None:
        """Choose the loss, optimizer and metrics.

        loss: 'mse', 'mae', 'huber', 'binary_crossentropy', 'categorical_crossentropy',
            'sparse_categorical_crossentropy', or ``fn(y_true, y_pred) -> scalar tensor``.
        optimizer: 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad' (with ``lr`` and extra keyword
            arguments such as ``momentum=0.9``), an :class:`OptimizerSpec` like ``Adam(lr=1e-3)``,
            or a ``torch.optim.Optimizer`` over this model's parameters.
        metrics: names among 'accuracy', 'mae', 'mse', 'rmse'.
        """
        if lr is not None and learning_rate is not None:
            raise SeqlabError("lr and learning_rate: pass one of them")
        lr = lr if lr is not None else learning_rate
        if isinstance(metrics, str):
            metrics = [metrics]
        self.loss_fn = get_loss(loss)
        self.metric_fns = [get_metric(m) for m in (metrics or [])]
        self._metrics_checked = False
        self._check_metrics()
        spec = get_optimizer(optimizer, lr, **optimizer_kwargs)
        if isinstance(spec, torch.optim.Optimizer):
            own = {id(p) for p in self.parameters()}
            theirs = [p for g in spec.param_groups for p in g["params"]]
            if not own or any(id(p) not in own for p in theirs):
                raise SeqlabError(
                    "optimizer: this optimizer instance is not over the model's parameters"
                    + ("" if own else " (the model has none yet: give the first layer input_shape or call build, "
                       "or pass the optimizer by name)")
                )
            self.optimizer = spec
        else:
            self.optimizer = None
        self._opt_spec = spec
        self.clipnorm = getattr(spec, "clipnorm", None)  # a Keras-style optimizer's clipnorm (seqlab.keras)
        self._compile_config = {
            "loss": loss if isinstance(loss, str) else self.loss_fn.config(),
            "optimizer": spec.to_config() if isinstance(spec, OptimizerSpec) else None,
            "metrics": [m.name for m in self.metric_fns],
        }
        if self.clipnorm is not None:
            self._compile_config["clipnorm"] = self.clipnorm

    def _check_metrics(self) -> None:
        """Warn once when a metric does not fit the loss: accuracy on a one-output regression."""
        if self._metrics_checked or not len(self.layers):
            return
        self._metrics_checked = True
        names = [m.name for m in self.metric_fns]
        last = self.layers[-1]
        units, act = getattr(last, "units", None), getattr(last, "activation", None)
        if "accuracy" in names and self.loss_fn.name in ("mse", "mae", "huber") and units == 1 and act != "sigmoid":
            warnings.warn(
                f"metrics: 'accuracy' with the regression loss {self.loss_fn.name!r} and one output is not a "
                "meaningful number: it counts predictions and targets on the same side of 0.5 (Keras's counts "
                "exact equality, almost never true for real numbers); use metrics=['mae'] or ['rmse'] for a "
                "regression, or Dense(1, activation='sigmoid') with loss='binary_crossentropy' for two classes",
                UserWarning, stacklevel=3)

    def ensure_optimizer(self, device: torch.device | None = None) -> torch.optim.Optimizer:
        """The optimizer, created from the compile spec once the model is built."""
        if self.optimizer is None:
            if self._opt_spec is None:
                raise SeqlabError("fit: the model is not compiled; call model.compile(...) first")
            self.optimizer = self._opt_spec.build(self.parameters())
            if self._pending_opt_state is not None:
                state_from_file(self.optimizer, *self._pending_opt_state)
                self._pending_opt_state = None
        if device is not None:
            for st in self.optimizer.state.values():
                for k, v in st.items():
                    if isinstance(v, Tensor) and v.device != device and not (k == "step" and v.dim() == 0):
                        st[k] = v.to(device)
        return self.optimizer

    def fit(self, x: Any = None, y: Any = None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, initial_epoch: int = 0,
            clipnorm: float | None = None, l1: float = 0.0, l2: float = 0.0, seed: int | None = None,
            device: str | torch.device = "auto", mixed_precision: bool = False, threads: int | None = 0,
            checkpoint: str | os.PathLike | None = None, resume: bool = False, sample_weight: Any = None,
            class_weight: dict | None = None) -> History:
        """Train for ``epochs`` passes over ``x`` (N, T, F) and ``y`` (N, ...), or a DataLoader of
        ``(x, y)`` or ``(x, y, sample_weight)`` batches. Returns a :class:`History` with 'loss',
        metrics and 'val_*' per epoch.

        sample_weight (N,) or, for sequence outputs, (N, T), and class_weight ``{class: weight}``
        weigh each sample's (step's) loss as Keras does: the sum of weighted losses over their
        number; the metrics stay unweighted. ``validation_data`` may be ``(x, y, sample_weight)``.

        verbose: 0 silent, 1 a progress bar per epoch on a terminal (one line per epoch
        otherwise), 2 one line per epoch. clipnorm: clip the global gradient norm. l1, l2:
        penalties on the weight matrices (not biases), included in the training loss. seed: the
        same seed gives bit-identical results on CPU. Under ``torchrun`` it trains
        data-parallel (see :mod:`seqlab.train.distributed`); ``batch_size`` is per process.
        threads: 0 (default) uses the cores the machine's load leaves idle, unless you set
        torch's threads yourself; N uses N; None leaves torch alone. checkpoint: a file to write
        at each epoch end (weights, optimizer, generators, position in the data); with
        ``resume=True`` an interrupted fit continues from it and ends bit-identical to an
        uninterrupted one. Training runs on :mod:`seqlab.train.loop`, the loop of every job.
        The layers' regularizer penalties (:meth:`regularization_loss`) join the training loss.
        """
        if clipnorm is None:
            clipnorm = getattr(self, "clipnorm", None)
        if self.loss_fn is not None:
            self._check_metrics()
        return engine.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                          validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                          initial_epoch=initial_epoch, clipnorm=clipnorm, l1=l1, l2=l2, seed=seed,
                          device=device, mixed_precision=mixed_precision, threads=threads,
                          checkpoint=checkpoint, resume=resume, sample_weight=sample_weight,
                          class_weight=class_weight)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int = 32, verbose: int = 0,
                 return_dict: bool = False, sample_weight: Any = None) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) on ``x``, ``y``: a float, ``[loss, *metrics]``, or a dict; the loss
        weighted by ``sample_weight`` as in :meth:`fit`."""
        if self.loss_fn is None:
            raise SeqlabError("evaluate: the model is not compiled; call model.compile(...) first")
        check_positive_int("batch_size", batch_size)
        data = engine.make_data(self, x, y, sample_weight=sample_weight)
        if not self.built:
            self.build_from(engine._first_x(data))
        data = engine.class_targets(self, data)  # float class labels as int64, checked once
        if isinstance(data, engine.ArrayData):
            data = data.to(self.device())
        logs = engine.evaluate_data(self, data, batch_size)
        if verbose and is_main_process():
            print(engine._fmt(logs))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def step(self, x: Tensor, state: list | None = None) -> tuple[Tensor, list]:
        """Run the next chunk ``x`` of a sequence from the carried ``state`` (None to start):
        ``(output, new state)``, equal to one pass over the whole sequence (:mod:`seqlab.streaming`)."""
        from .streaming import sequential_step

        return sequential_step(self, x, state)

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray | Tensor:
        """Outputs for ``x``; NumPy in (or a DataLoader), NumPy out; tensor in, tensor out."""
        return engine.predict(self, x, batch_size)

    # -- config and files ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "layers": [serialize(l) for l in self.layers],
                "input_shape": None if self.input_shape is None else list(self.input_shape)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Sequential":
        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            model.add(deserialize(spec))
        if config.get("input_shape") is not None and not model.built:
            model.build(tuple(config["input_shape"]))
        return model

    # -- Keras's weight and batch methods -------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight as NumPy arrays, in layer order (the ``state_dict``'s tensors:
        torch's layout, two biases per recurrent layer)."""
        self._check_built("get_weights")
        return [t.detach().cpu().numpy().copy() for t in self.state_dict().values()]

    @torch.no_grad()
    def set_weights(self, weights: Sequence[Any]) -> None:
        """Put ``weights`` (as :meth:`get_weights` returns them: same number, order and shapes) in."""
        self._check_built("set_weights")
        state = self.state_dict()
        if not isinstance(weights, (list, tuple)) or len(weights) != len(state):
            got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise SeqlabError(f"weights: expected a list of {len(state)} arrays as get_weights() returns, got {got}")
        new = {}
        for (name, old), w in zip(state.items(), weights):
            t = torch.as_tensor(np.asarray(w))
            if tuple(t.shape) != tuple(old.shape):
                raise SeqlabError(f"weights: {name} has shape {tuple(old.shape)}, got {tuple(t.shape)}")
            new[name] = t.to(old.dtype)
        self.load_state_dict(new)

    def save_weights(self, path: str | os.PathLike) -> None:
        """The weights alone (no architecture, no optimizer) as one .safetensors file, atomically;
        :meth:`load_weights` puts them into a model of the same architecture."""
        self._check_built("save_weights")
        if is_main_process():
            io.save_file(path, WEIGHTS_KIND, {"layers": [type(l).__name__ for l in self.layers]},
                         {k: v.detach() for k, v in self.state_dict().items()})

    def load_weights(self, path: str | os.PathLike) -> None:
        """The weights :meth:`save_weights` wrote; ModelFileError naming the file when they do not
        fit this model's architecture."""
        self._check_built("load_weights")
        _, tensors = io.load_file(path, WEIGHTS_KIND, "path")
        state = self.state_dict()
        wrong = sorted(set(state) ^ set(tensors)) + [k for k in state if k in tensors
                                                     and tuple(tensors[k].shape) != tuple(state[k].shape)]
        if wrong:
            raise ModelFileError(f"weights file {str(path)!r} does not fit this model's architecture "
                                 f"(differing or missing weights: {wrong[:5]})")
        self.load_state_dict(tensors)

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One optimizer step on the batch ``(x, y)``; its loss (and metrics) as :meth:`evaluate`
        returns them, measured during the step."""
        trained = self.epochs_trained
        history = self.fit(x, y, batch_size=len(x), epochs=trained + 1, initial_epoch=trained, verbose=0,
                           shuffle=False, sample_weight=sample_weight, class_weight=class_weight, threads=None)
        self.epochs_trained = trained  # a batch, not an epoch
        logs = {k: v[-1] for k, v in history.history.items() if k != "lr"}
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """:meth:`evaluate` on one batch."""
        return self.evaluate(x, y, batch_size=max(1, len(x)), sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray | Tensor:
        """:meth:`predict` on one batch."""
        return self.predict(x, batch_size=max(1, len(x)))

    def _check_built(self, what: str) -> None:
        if not self.built:
            raise SeqlabError(f"{what}: the model is not built yet; give the first layer input_shape=(timesteps, "
                              "features), call model.build((None, timesteps, features)) or fit it first")

    def save(self, path: str | os.PathLike, include_optimizer: bool = True) -> None:
        """Write one .safetensors file: the architecture and compile settings as JSON metadata,
        weights (and optimizer state) as tensors. Atomic; under multi-process only rank 0 writes."""
        if not self.built:
            raise SeqlabError("model: not built yet, nothing to save; fit it or call build first")
        config = {"model": self.get_config(), "compile": self._compile_config, "epochs_trained": self.epochs_trained}
        tensors = {f"model/{k}": v for k, v in self.state_dict().items()}
        if include_optimizer and self.optimizer is not None:
            opt_cfg, opt_t = state_to_file(self.optimizer)
            config["optimizer_state"] = opt_cfg
            tensors.update(opt_t)
        if is_main_process():
            io.save_file(path, KIND, config, tensors)


def load_model(path: str | os.PathLike, compile: bool = True, cls: type[Sequential] = Sequential) -> Sequential:
    """The model saved at ``path``, predicting identically; with its compile settings and
    optimizer state when they were saved (``fit`` then resumes training).

    Raises :class:`~seqlab.errors.ModelFileError` for a missing, truncated, corrupted or
    foreign file. Loading reads JSON and raw tensors only: it never runs code from the file.
    """
    config, tensors = io.load_file(path, KIND)
    try:
        model = cls.from_config(config["model"])
        weights = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise ModelFileError(f"model file {str(path)!r}: weights do not match the architecture "
                                 f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
        model.epochs_trained = int(config.get("epochs_trained", 0))
        comp = config.get("compile")
        if compile and comp and comp.get("loss") is not None:
            opt = OptimizerSpec(**comp["optimizer"]) if comp.get("optimizer") else "adam"
            with warnings.catch_warnings():  # it warned when first compiled
                warnings.simplefilter("ignore", UserWarning)
                Sequential.compile(model, loss=comp["loss"], optimizer=opt, metrics=comp.get("metrics") or None)
            model.clipnorm = comp.get("clipnorm")
            if comp.get("optimizer") and "optimizer_state" in config:
                model._pending_opt_state = (config["optimizer_state"], tensors)
                model.ensure_optimizer()
    except ModelFileError:
        raise
    except (SeqlabError, KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        raise ModelFileError(f"model file {str(path)!r} has an invalid seqlab model config: {exc}") from exc
    return model


__all__ = ["Sequential", "load_model"]
