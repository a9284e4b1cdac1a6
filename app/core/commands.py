"""Typed service inputs. A command is a frozen dataclass built at the edge (an API schema, a
portal form, a partner file); services take it instead of a dict. `Changes` is for updates that
change only what they name (PATCH, a PUT of some fields, a file that leaves some out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Self


@dataclass(frozen=True)
class Changes:
    """Fields with their defaults (declared by the frozen dataclass that extends this), and
    `given`: the fields the update names."""

    given: frozenset[str] = frozenset()

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Self:
        """From the fields `data` names (other keys are not fields and are left out)."""
        values = {name: data[name] for name in cls._names() if name in data}
        return cls(**values, given=frozenset(values))

    @classmethod
    def _names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls)) - {"given"}

    def as_new(self) -> Self:
        """Every field given: what a create applies (the defaults for what was not named)."""
        return replace(self, given=self._names())

    def named(self) -> dict[str, Any]:
        """The given fields and their values, in a stable order."""
        return {name: getattr(self, name) for name in sorted(self.given)}
