"""Lazy package exports: names that load their module on first use.

Each job package lists ``name -> submodule`` and gets a module ``__getattr__`` from here, so that
``import seqlab.<job>.cli`` (which ``seqlab --help`` does for every job) imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` resolving ``names[name]`` (a submodule name
    relative to the package, or an absolute module path) on first access."""

    def __getattr__(name: str) -> Any:
        if name in names:
            module = names[name]
            target = module if "." in module else f"{package}.{module}"
            return getattr(importlib.import_module(target), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
