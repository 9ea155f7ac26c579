"""Heavy libraries bound at a module's top but loaded on first use.

`pd = lazy_module("pandas")` binds the name where the other imports are; the library's own
import runs at the first attribute read (importlib's LazyLoader). A command that never reads
it, such as a closed-form price, starts without it: pandas and scipy are about a third of
`gpufin price`'s start-up.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module `name`: itself when already imported, else a module that imports itself on
    its first attribute read (a submodule's parent package is imported now)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
