"""The committed OpenAPI documents are current, and every business operation says who may call it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scripts.dev.export_openapi import OUT, documents, refusals, render

from lrs_platform.identity import OPENAPI_SCOPES, OperatorScope

OPERATIONS_ROUTES = {"/healthz", "/readyz", "/metrics", "/v1/schema/achievement-batch.xsd", "/.well-known/jwks.json"}


@pytest.fixture(scope="module")
def current() -> dict[str, dict[str, Any]]:
    return documents()


def test_committed_documents_are_current(current: dict[str, dict[str, Any]]) -> None:
    for name, document in current.items():
        committed = (OUT / f"{name}.json").read_text(encoding="utf-8")
        assert committed == render(document), f"docs/openapi/{name}.json is stale: run make openapi"


def test_no_model_of_a_committed_document_changed_incompatibly(current: dict[str, dict[str, Any]]) -> None:
    """Integrators generate clients from the committed documents: a model's field removed or retyped is refused
    by `make openapi` unless the service's API version's major number is raised."""
    for name, document in current.items():
        committed = json.loads((OUT / f"{name}.json").read_text(encoding="utf-8"))
        assert refusals(name, committed, document)[1] == [], (
            "keep the models' shape, or raise the service's API version (build_app's version=, its major number)"
        )


def _history_entry_credits(document: dict[str, Any]) -> dict[str, Any]:
    credits: dict[str, Any] = document["components"]["schemas"]["HistoryEntryView"]["properties"]["credits"]
    return credits


def test_a_retyped_response_field_is_refused_and_a_new_optional_field_is_a_note() -> None:
    committed = json.loads((OUT / "plr-projector.json").read_text(encoding="utf-8"))
    retyped = json.loads(json.dumps(committed))
    _history_entry_credits(retyped)["anyOf"][0] = {"type": "number"}
    notes, refused = refusals("plr-projector", committed, retyped)
    assert notes == []
    # said of the model, and of each model that holds it (each answer whose clients it breaks)
    assert "incompatible: plr-projector: HistoryEntryView: credits: type changed from integer|null to number|null" in (
        refused
    )
    assert all(line.endswith("credits: type changed from integer|null to number|null") for line in refused)
    widened = json.loads(json.dumps(committed))
    widened["components"]["schemas"]["HistoryEntryView"]["properties"]["certificate"] = {"type": "string"}
    notes, refused = refusals("plr-projector", committed, widened)
    assert refused == []
    assert (
        "note: plr-projector: HistoryEntryView: certificate: new optional field"
        " (allowed: a client ignores fields and values it does not know)"
    ) in notes


def test_a_breaking_change_is_accepted_under_a_raised_major_version_only() -> None:
    committed = json.loads((OUT / "plr-projector.json").read_text(encoding="utf-8"))
    retyped = json.loads(json.dumps(committed))
    _history_entry_credits(retyped)["anyOf"][0] = {"type": "number"}
    retyped["info"]["version"] = "1.1.0"
    assert refusals("plr-projector", committed, retyped)[1] != []
    retyped["info"]["version"] = "2.0.0"
    notes, refused = refusals("plr-projector", committed, retyped)
    assert refused == []
    assert any(note.startswith("accepted: plr-projector: HistoryEntryView: credits: type changed") for note in notes)


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


def test_every_authenticated_operation_names_the_operator_scopes_that_reach_it(
    current: dict[str, dict[str, Any]],
) -> None:
    """Decision 0122: a scoped operator key calls only routes naming one of its scopes, so every route
    a key reaches names its scopes (one naming none would be open to unscoped keys alone, by mistake)."""
    known = {scope.value for scope in OperatorScope}
    for name, document in current.items():
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                scopes = operation.get(OPENAPI_SCOPES)
                if "401" not in operation["responses"]:
                    assert scopes is None, f"{name} {method.upper()} {path}: scopes on a route open to all"
                    continue
                assert scopes, f"{name} {method.upper()} {path} names no operator scope"
                assert set(scopes) <= known, (name, path, scopes)


def test_every_operation_that_answers_401_asks_for_the_api_key(current: dict[str, dict[str, Any]]) -> None:
    """So /docs offers Authorize, and a client generated from a document sends `Authorization: Bearer`."""
    for name, document in current.items():
        assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer", name
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if "401" in operation["responses"]:
                    assert operation.get("security") == [{"apiKey": []}], f"{name} {method.upper()} {path}"


PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_every_error_answer_is_documented_as_the_problem_in_problem_json(current: dict[str, dict[str, Any]]) -> None:
    """Every problem is answered as application/problem+json (a request that fails validation too, as
    INVALID_REQUEST), so a client generated from a document reads every error body as the Problem. Only /readyz
    answers an error status (503) with a body of its own, the readiness report."""
    for name, document in current.items():
        assert "ValidationError" not in json.dumps(document), f"{name}: FastAPI's HTTPValidationError is documented"
        assert "Problem" in document["components"]["schemas"], name
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation["responses"]
                if operation.get("parameters") or "requestBody" in operation:
                    assert "422" in responses, f"{name} {method.upper()} {path} does not document 422"
                for status, response in responses.items():
                    if status[0] in "45" and path != "/readyz":
                        assert response.get("content") == PROBLEM_CONTENT, f"{name} {method.upper()} {path} {status}"


def test_every_answer_documents_the_request_id_and_the_environment(current: dict[str, dict[str, Any]]) -> None:
    """Every answer carries both (the request log's): a client generated from a document may read them."""
    for name, document in current.items():
        assert set(document["components"]["headers"]) == {"X-Request-Id", "LRS-Environment"}, name
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    headers = response.get("headers", {})
                    assert {"X-Request-Id", "LRS-Environment"} <= set(headers), (name, method, path, status)
