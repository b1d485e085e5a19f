"""scikit-learn's estimator bases when it is installed, a small stand-in when it is not.

scikit-learn is an extra (``pip install 'seqlab[sklearn]'``), as LightGBM and XGBoost treat it:
with it, :class:`seqlab.classify.SequenceClassifier` and the other estimators inherit
``sklearn.base.BaseEstimator`` and the matching mixin, so ``clone``, ``Pipeline``,
``GridSearchCV`` and ``check_estimator`` see real scikit-learn estimators. Without it, the
stand-in gives the same ``get_params`` / ``set_params`` (read from the ``__init__`` signature:
every argument is stored under its own name and nothing else happens there) and repr.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable

import numpy as np

from .errors import SeqlabError

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import DataConversionWarning
    from sklearn.exceptions import NotFittedError as _NotFittedError

    HAVE_SKLEARN = True
except ImportError:
    HAVE_SKLEARN = False

    class _NotFittedError(AttributeError):  # type: ignore[no-redef]
        """Stands for sklearn.exceptions.NotFittedError (a ValueError and an AttributeError)."""

    class DataConversionWarning(UserWarning):  # type: ignore[no-redef]
        """Stands for sklearn.exceptions.DataConversionWarning."""

    class BaseEstimator:  # type: ignore[no-redef]
        """``get_params`` / ``set_params`` from the ``__init__`` signature, as scikit-learn's."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            init = cls.__init__
            if init is object.__init__:
                return []
            params = inspect.signature(init).parameters.values()
            return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            out = {}
            for name in self._get_param_names():
                value = getattr(self, name)
                if deep and hasattr(value, "get_params") and not isinstance(value, type):
                    out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
                out[name] = value
            return out

        def set_params(self, **params: Any) -> "BaseEstimator":
            valid = self.get_params(deep=True)
            nested: dict[str, dict[str, Any]] = {}
            for key, value in params.items():
                name, sep, sub = key.partition("__")
                if name not in valid:
                    raise SeqlabError(f"{key}: not a parameter of {type(self).__name__}; "
                                      f"valid parameters: {sorted(self._get_param_names())}")
                if sep:
                    nested.setdefault(name, {})[sub] = value
                else:
                    setattr(self, name, value)
                    valid[name] = value
            for name, sub_params in nested.items():
                valid[name].set_params(**sub_params)
            return self

        def __repr__(self) -> str:
            init = inspect.signature(type(self).__init__).parameters
            changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items()
                       if not (v is init[k].default or (type(v) is type(init[k].default) and v == init[k].default))]
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClassifierMixin:  # type: ignore[no-redef]
        _estimator_type = "classifier"

    class RegressorMixin:  # type: ignore[no-redef]
        _estimator_type = "regressor"


class NotFittedError(SeqlabError, _NotFittedError):
    """A model used before ``fit`` (or ``load``): a SeqlabError, and scikit-learn's NotFittedError
    where scikit-learn is installed."""


def python_params(fit: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates an estimator's ``fit``: NumPy scalar parameters (``np.int64(8)`` from a grid of
    ``np.arange``, ``np.float32`` from ``np.linspace``, draws of ``scipy.stats``) are Python
    numbers while it runs, so that the checks and the saved JSON config take them, and are put
    back as they were afterwards (``fit`` leaves parameters unchanged, as scikit-learn requires)."""

    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        given = {name: getattr(self, name) for name in self._get_param_names()}
        scalars = {name: v for name, v in given.items() if isinstance(v, np.generic)}
        for name, v in scalars.items():
            setattr(self, name, v.item())
        try:
            return fit(self, *args, **kwargs)
        finally:
            for name, v in scalars.items():
                setattr(self, name, v)
    return wrapper


def column_warning(shape: tuple) -> None:
    """Warn, in scikit-learn's words, that a column vector y (N, 1) is read as (N,)."""
    warnings.warn(f"A column-vector y was passed when a 1d array was expected: y of shape {shape} is read as "
                  f"({shape[0]},); pass y.ravel() to silence this warning", DataConversionWarning, stacklevel=3)


__all__ = ["HAVE_SKLEARN", "BaseEstimator", "ClassifierMixin", "RegressorMixin", "NotFittedError", "python_params",
           "DataConversionWarning", "column_warning"]
