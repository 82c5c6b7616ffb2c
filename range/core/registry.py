"""Small registries: techniques, benign traffic kinds, runtimes are found by name, not by ``if``.

A registry is filled by a class decorator in the modules of one package; :meth:`Registry.all`
imports every module of that package once, so dropping a new module in is all it takes.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Generic, TypeVar

from range.core.errors import NotFound

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = False
        self._lock = threading.RLock()

    def register(self, cls: type) -> type:
        name = cls.name
        if name in self._items:
            raise RuntimeError(f"{self.kind} {name!r} registered twice")
        self._items[name] = cls()
        return cls

    def _load(self) -> None:
        """Import every module of the package once. Threads of the web app ask at the same time:
        none may see the registry before the last module has registered (it did: a restarted
        server's driver found the benign kinds without 'web', imported last)."""
        if self._loaded:
            return
        with self._lock:  # re-entrant: a module being imported may look names up
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                pkg = importlib.import_module(self.package)
                for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                    if not mod.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{mod.name}")
                self._loaded = True
            finally:
                self._loading = False

    def all(self) -> dict[str, T]:
        self._load()
        return dict(sorted(self._items.items()))

    def get(self, name: str) -> T:
        items = self.all()
        if name not in items:
            raise NotFound(f"unknown {self.kind} {name!r}; known: {', '.join(items)}")
        return items[name]

    def __contains__(self, name: str) -> bool:
        return name in self.all()

