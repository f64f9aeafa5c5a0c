"""Writes each service's OpenAPI document to docs/openapi/<service>.json (`make openapi`), if no model changed
incompatibly.

The committed documents are what integrators generate their clients from, so their models (`components.schemas`)
are checked against today's by the events' rules (`lrs_contracts.compatibility.changes`): a new optional field or
enum value, or a new model, is written with a note (a client generated from the old document must ignore what it
does not know); a field removed or retyped, a new required field, a changed bound, a model removed is refused, and
nothing is written. To make such a change on purpose, raise the service's API version (`build_app(version=...)`,
its major number: `2.0.0`), which `info.version` says; a change under the same major number is refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from challenges.bootstrap import create_app as challenges_app
from ingest.bootstrap import create_app as ingest_app
from ingest.config import IngestSettings
from lrs_contracts.compatibility import Changes, changes
from notifier.bootstrap import create_app as notifier_app
from plr_projector.bootstrap import create_app as projector_app
from portal.bootstrap import create_app as portal_app
from reporting.bootstrap import create_app as reporting_app
from validation.bootstrap import create_app as validation_app

OUT = Path(__file__).resolve().parents[2] / "docs" / "openapi"
APPS: dict[str, Callable[[], FastAPI]] = {
    "ingest": ingest_app,
    "validation": validation_app,
    "plr-projector": projector_app,
    "challenges": challenges_app,
    "notifier": notifier_app,
    "reporting": reporting_app,
    "portal": portal_app,
    # the Sandpit's ingest adds the reset routes (decision 0060); the other Sandpit services' routes are live's, less
    # the notifier's challenge contacts (live only: its Sandpit document leaves them out)
    "ingest-sandpit": lambda: ingest_app(
        IngestSettings(LRS_ENVIRONMENT="sandpit", DATABASE_URL="postgresql://postgres@127.0.0.1:5432/lrs_sandpit")
    ),
}


def documents() -> dict[str, dict[str, Any]]:
    return {name: factory().openapi() for name, factory in APPS.items()}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _named_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The document's models, their `$ref`s spelt as `changes` resolves them."""
    schemas = document.get("components", {}).get("schemas", {})
    loaded: dict[str, Any] = json.loads(json.dumps(schemas).replace('"#/components/schemas/', '"#/$defs/'))
    return loaded


def model_changes(committed: dict[str, Any], current: dict[str, Any]) -> Changes:
    """What today's document changed in the committed one's models, each line prefixed with the model's name."""
    old, new = _named_schemas(committed), _named_schemas(current)
    found = Changes()
    for name in sorted(set(new) - set(old)):
        found.notes.append(f"{name}: new model")
    for name in sorted(set(old) - set(new)):
        found.incompatible.append(f"{name}: model removed")
    for name in sorted(set(old) & set(new)):
        compared = changes({**old[name], "$defs": old}, {**new[name], "$defs": new})
        found.incompatible.extend(f"{name}: {line}" for line in compared.incompatible)
        found.notes.extend(f"{name}: {line}" for line in compared.notes)
    return found


def major_version_raised(committed: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether today's `info.version` has a greater major number than the committed document's."""

    def major(document: dict[str, Any]) -> int:
        return int(str(document.get("info", {}).get("version", "0")).split(".")[0])

    return major(current) > major(committed)


def refusals(name: str, committed: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What `make openapi` says of a service's document: (notes, refusals); a refusal stops every write."""
    found = model_changes(committed, current)
    notes = [
        f"note: {name}: {line} (allowed: a client ignores fields and values it does not know)" for line in found.notes
    ]
    if major_version_raised(committed, current):
        notes += [f"accepted: {name}: {line} (API version {current['info']['version']})" for line in found.incompatible]
        return notes, []
    return notes, [f"incompatible: {name}: {line}" for line in found.incompatible]


def main() -> int:
    current = documents()
    refused = []
    for name, document in current.items():
        path = OUT / f"{name}.json"
        if not path.exists():
            continue
        notes, refusing = refusals(name, json.loads(path.read_text(encoding="utf-8")), document)
        sys.stderr.writelines(f"{line}\n" for line in notes)
        refused += refusing
    if refused:
        sys.stderr.writelines(f"{line}\n" for line in refused)
        sys.stderr.write(
            "docs/openapi/ not written: keep the models' shape, or, for a breaking change on purpose, raise the"
            " service's API version (build_app's version=, its major number)\n"
        )
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for name, document in current.items():
        (OUT / f"{name}.json").write_text(render(document), encoding="utf-8")
        sys.stdout.write(f"docs/openapi/{name}.json\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
