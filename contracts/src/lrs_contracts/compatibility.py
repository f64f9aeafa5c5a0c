"""Can consumers built from the new schema of an event still read every event written under the old one?

A v1 event may gain optional fields; it may not gain required fields, lose fields, or change a
field's type. Anything else needs a v2 event type. Checked against the committed snapshots in
`contracts/schemas/` by `contracts/tests/test_schema_snapshots.py`.

The other direction does not hold: every model forbids fields it does not know (a producer's typo
is refused, not dropped), so a consumer of the OLD release refuses an event carrying a new field,
and parks an event type it has never heard of. A release that adds either upgrades the topic's
consumers before its producers (docs/deploy.md, "Upgrade").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrs_contracts.registry import EVENT_TYPES, schema_of

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas"

Schema = dict[str, Any]


def snapshot_path(event_type: str) -> Path:
    return SNAPSHOT_DIR / f"{event_type}.json"


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Schema = root.get("$defs", {})[ref.removeprefix("#/$defs/")]
        return resolved
    return schema


def _type_signature(schema: Schema, root: Schema) -> str:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return "|".join(sorted(_type_signature(option, root) for option in schema["anyOf"]))
    if schema.get("type") == "array":
        items = schema.get("items", schema.get("prefixItems", {}))
        inner = _type_signature(items, root) if isinstance(items, dict) else "any"
        return f"array[{inner}]"
    if "enum" in schema:
        return "enum"
    if "const" in schema:
        return f"const:{schema['const']}"
    return str(schema.get("type", "object" if "properties" in schema else "any"))


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Reasons why `new` breaks readers of `old` (empty when compatible)."""
    problems: list[str] = []
    _compare(old, new, old, new, "", problems)
    return problems


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, problems: list[str]) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    old_props: dict[str, Schema] = old.get("properties", {})
    new_props: dict[str, Schema] = new.get("properties", {})
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{path}{name}: new required field")
    for name in sorted(set(old_props) - set(new_props)):
        problems.append(f"{path}{name}: field removed")
    for name in sorted(set(old_props) & set(new_props)):
        before, after = _type_signature(old_props[name], old_root), _type_signature(new_props[name], new_root)
        if before != after:
            problems.append(f"{path}{name}: type changed from {before} to {after}")
            continue
        old_child, new_child = _resolve(old_props[name], old_root), _resolve(new_props[name], new_root)
        if "properties" in old_child:
            _compare(old_child, new_child, old_root, new_root, f"{path}{name}.", problems)
        elif old_child.get("type") == "array" and isinstance(old_child.get("items"), dict):
            _compare(old_child["items"], new_child.get("items", {}), old_root, new_root, f"{path}{name}[].", problems)


def write_snapshots() -> list[Path]:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    written = []
    for event_type, model in sorted(EVENT_TYPES.items()):
        path = snapshot_path(event_type)
        path.write_text(json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    sys.stdout.writelines(f"{written_path.name}\n" for written_path in write_snapshots())
