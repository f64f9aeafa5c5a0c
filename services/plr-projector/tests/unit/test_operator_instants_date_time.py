"""The projector's operator answers type their instants `date-time`, as every other answer does, so a client
generated from the OpenAPI document reads them as instants; FastAPI sends them in UTC with `Z` (the answers' own
tests, `test_admin_answers_typed` and `test_credential_key_answers_typed`, check the bytes)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from plr_projector.admin_models import (
    CredentialKeyView,
    EndedRebuildView,
    ParkedEventView,
    RebuildComparison,
    RebuildUnderWay,
    ReplayView,
)

INSTANTS: list[tuple[type[BaseModel], str]] = [
    (CredentialKeyView, "created_at"),
    (CredentialKeyView, "retired_at"),
    (CredentialKeyView, "withdrawn_at"),
    (RebuildUnderWay, "started_at"),
    (RebuildComparison, "compared_at"),
    (ReplayView, "started_at"),
    (ReplayView, "finished_at"),
    (EndedRebuildView, "finished_at"),
    (ParkedEventView, "parked_at"),
    (ParkedEventView, "last_tried_at"),
]


def _formats(schema: dict[str, Any]) -> set[str | None]:
    return {branch.get("format") for branch in schema.get("anyOf", [schema]) if branch.get("type") == "string"}


@pytest.mark.parametrize(("model", "name"), INSTANTS, ids=[f"{model.__name__}.{name}" for model, name in INSTANTS])
def test_an_instant_is_typed_date_time(model: type[BaseModel], name: str) -> None:
    schema = model.model_json_schema(mode="serialization")["properties"][name]
    assert _formats(schema) == {"date-time"}, schema
