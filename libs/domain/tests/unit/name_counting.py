"""The names a test sees counted in Python: the one length gate (`lrs_domain.names.name_too_long`) counts only a name
that composes longer than the limit, and the message saying how long a name is counts it again."""

from __future__ import annotations

from types import ModuleType

import pytest

import lrs_domain.names
from lrs_domain.names import name_length


def names_counted(monkeypatch: pytest.MonkeyPatch, saying: ModuleType) -> list[str]:
    """The names counted by the gate or by `saying`, the module whose message says a name's length, as they are."""
    seen: list[str] = []

    def counting(name: str) -> int:
        seen.append(name)
        return name_length(name)

    monkeypatch.setattr(lrs_domain.names, "name_length", counting)
    monkeypatch.setattr(saying, "name_length", counting)
    return seen
