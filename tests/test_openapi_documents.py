"""The committed OpenAPI documents are current, and every business operation says who may call it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scripts.dev.export_openapi import OUT, documents, render

OPERATIONS_ROUTES = {"/healthz", "/readyz", "/metrics", "/v1/schema/achievement-batch.xsd", "/.well-known/jwks.json"}


@pytest.fixture(scope="module")
def current() -> dict[str, dict[str, Any]]:
    return documents()


def test_committed_documents_are_current(current: dict[str, dict[str, Any]]) -> None:
    for name, document in current.items():
        committed = (OUT / f"{name}.json").read_text(encoding="utf-8")
        assert committed == render(document), f"docs/openapi/{name}.json is stale: run make openapi"


def test_every_business_operation_documents_unauthenticated_and_problem_answers(
    current: dict[str, dict[str, Any]],
) -> None:
    for name, document in current.items():
        for path, operations in document["paths"].items():
            if path in OPERATIONS_ROUTES:
                continue
            for method, operation in operations.items():
                responses = operation["responses"]
                assert "401" in responses, f"{name} {method.upper()} {path} does not document 401"
                assert json.dumps(responses).count("problem") or "422" in responses, (name, path)
