"""A tiny name -> factory registry, so a backend is chosen by a setting string and a typo lists the choices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from services.core.errors import ConfigurationError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps setting values to factories of one port's adapters."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return add

    def create(self, name: str, *args: object, **kwargs: object) -> T:
        try:
            factory = self._factories[name]
        except KeyError:
            choices = ", ".join(sorted(self._factories)) or "(none registered)"
            raise ConfigurationError(f"unknown {self.kind} {name!r}; valid choices: {choices}") from None
        return factory(*args, **kwargs)

    @property
    def choices(self) -> list[str]:
        return sorted(self._factories)
