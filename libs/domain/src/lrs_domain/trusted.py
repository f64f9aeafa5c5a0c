"""Contract models built from values the rules have already checked, without validating them again.

Building a pydantic model validates every field; for values the rules established themselves (a
ULN that passed RV001-RV003, a normalised QAN, a parsed date, a status the decision chose) that
second check only costs, and a batch builds five such models per record. `trusted(Model, ...)`
builds what `Model(...)` would: the caller gives every field of the model, in its declared order
and types (`libs/domain/tests/unit/test_domain_trusted.py` compares each use with pydantic's).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__


def trusted(model: type[ModelT], /, **fields: Any) -> ModelT:
    built: ModelT = _new(model)
    _set(built, "__dict__", fields)
    _set(built, "__pydantic_fields_set__", set(fields))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built
