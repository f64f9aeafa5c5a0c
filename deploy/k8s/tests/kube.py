"""Rendering the kustomizations and checking objects against the vendored schemas, offline."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

K8S = Path(__file__).resolve().parents[1]
ROOT = K8S.parents[1]
SCHEMAS = K8S / "schemas"
OVERLAYS = ("dev", "prod")
# Every kustomization an operator applies: the two overlays and their one-off Jobs and restore.
KUSTOMIZATIONS = (
    "base",
    "overlays/dev",
    "overlays/prod",
    "overlays/dev/rebuild",
    "overlays/prod/rebuild",
    "overlays/prod/restore",
    "analysts",
)

Doc = dict[str, Any]


def _kustomize_command() -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    message = "neither kubectl nor kustomize is installed: the manifests cannot be rendered"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def render_directory(directory: Path) -> list[Doc]:
    """The objects of the kustomization in `directory` (a copy of these manifests, say)."""
    result = subprocess.run([*_kustomize_command(), str(directory)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"kustomize failed for {directory}: {result.stderr}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(result.stdout, Loader=loader) if doc]


@functools.cache
def _render(path: str) -> tuple[Doc, ...]:
    return tuple(render_directory(K8S / path))


def render(path: str) -> list[Doc]:
    """The objects of one kustomization, as `kubectl apply -k` would send them (a fresh copy each time)."""
    return copy.deepcopy(list(_render(path)))


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    [doc] = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    return doc


def versions() -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((K8S / "base" / "versions.yaml").read_text())["data"]
    return data


def _index() -> dict[str, str]:
    index: dict[str, str] = json.loads((SCHEMAS / "index.json").read_text())
    return index


def _strict(node: Any) -> Any:
    """A CRD's OpenAPI schema as kubectl's strict field validation reads it: unknown fields are errors
    (unless the schema preserves them), `nullable` admits null, int-or-string admits either."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


@functools.cache
def _validator(key: str) -> Any:
    index = _index()
    if key not in index:
        raise LookupError(f"no vendored schema for {key}: add the kind to deploy/k8s/schemas/vendor.py and refresh")
    schema = json.loads((SCHEMAS / index[key]).read_text())
    if index[key].startswith("kubernetes/"):
        return jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
    return jsonschema_rs.Draft4Validator(_strict(schema), validate_formats=False)


def is_custom(doc: Doc) -> bool:
    return not _index()[f"{doc['apiVersion']}/{doc['kind']}"].startswith("kubernetes/")


def schema_errors(doc: Doc) -> list[str]:
    """Every way the object breaks its kind's schema (and, for custom resources, ObjectMeta's)."""
    name = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
    found = [
        f"{name}: /{'/'.join(map(str, error.instance_path))}: {error.message}"
        for error in _validator(f"{doc['apiVersion']}/{doc['kind']}").iter_errors(doc)
    ]
    if is_custom(doc):
        found += [
            f"{name}: /metadata/{'/'.join(map(str, error.instance_path))}: {error.message}"
            for error in _validator("meta/v1/ObjectMeta").iter_errors(doc.get("metadata", {}))
        ]
    return found


def containers(doc: Doc) -> list[Doc]:
    pod = doc["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def env_of(container: Doc) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}
