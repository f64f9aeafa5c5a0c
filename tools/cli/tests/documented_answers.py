"""Stubbed service answers checked against the services' OpenAPI documents (`make openapi`), so that a CLI test
never passes on an answer no service gives: every key the service sends, none it does not, each of its type."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi"


@functools.cache
def _document(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((OPENAPI / f"{service}.json").read_text(encoding="utf-8"))
    return loaded


def _closed(node: Any) -> Any:
    """Each model of the document closed: a key it does not name is refused (a problem's is open, and says so)."""
    if isinstance(node, list):
        return [_closed(each) for each in node]
    if not isinstance(node, dict):
        return node
    closed = {key: _closed(value) for key, value in node.items()}
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        closed["additionalProperties"] = False
    return closed


def as_documented(service: str, request: httpx.Request, answer: httpx.Response) -> None:
    """Fails the test whose stub answers `request` otherwise than `service`'s OpenAPI document says it does."""
    document = _document(service)
    method = request.method.lower()
    path = next(
        (
            path
            for path in sorted(document["paths"], key=lambda path: (path.count("{"), path))
            if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)), request.url.path)
            and method in document["paths"][path]
        ),
        None,
    )
    assert path is not None, f"{service} has no {request.method} {request.url.path}"
    documented = document["paths"][path][method]["responses"].get(str(answer.status_code))
    assert documented is not None, f"{service} does not document {answer.status_code} on {request.method} {path}"
    content = documented.get("content", {})
    schema = (content.get("application/json") or content["application/problem+json"])["schema"]
    validator = Draft202012Validator({**_closed(schema), "components": _closed(document["components"])})
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(answer.json())
    ]
    assert not errors, (
        f"the stubbed {answer.status_code} of {service} {request.method} {path} is not as documented: {errors}"
    )
