"""Is the new schema of an event still the same `.vN` contract as the committed one?

The promise (docs/events.md, the envelope's `event_type`; docs/architecture.md, "Topics"; docs/analyst-quickstart.md,
"How a topic changes"): within a `.vN` an event only gains optional fields and enum values; nothing is removed,
renamed or given another type. Anything else is published as a new type (`.v2`). Checked against the committed
snapshots in `contracts/schemas/` by `contracts/tests/test_schema_snapshots.py` and by this module's command line.

The check walks the whole payload: top-level fields, objects behind `X | None` and in any other
`anyOf`/`oneOf`/`allOf` (`$ref`s resolved), array items and map values (`additionalProperties`), at any depth.
Paths name where a change is: `achievement.grade`, `on_plr[].qualification_type`, `resolutions{}` (a map's values).

Incompatible (`changes(old, new).incompatible`, also `incompatibilities`):

- a new required field, or an optional field becoming required: events written before lack it;
- a field removed, or a required field becoming optional: a consumer relies on a required field being there, and
  one that may be absent is, to it, a removed field ("none is removed");
- another type: another JSON type, a field that may now be null or no longer may be, an enum of another type, a
  changed type of an array's items or a map's values;
- an enum value removed (a `const` is an enum of one value): events written before carry it;
- a changed `pattern`, `format`, length, numeric or item-count bound: tightened, events written before break it;
  loosened, a consumer that validates against the published snapshot or casts the value (a `date` column, a
  ULN of ten digits) refuses the new values. Whether one regular expression accepts everything another does cannot
  be decided in general, so every change of a pattern fails, added, removed, tightened or loosened;
- an object that admitted fields or keys it does not name no longer admitting them.

Compatible, reported as notes (`changes(old, new).notes`; `python -m lrs_contracts.compatibility` prints them):

- a new optional field;
- a new enum value: consumers are told to tolerate values they do not know (docs/events.md);
- a closed object (`"additionalProperties": false`) opened;
- a changed default of an optional field (what a reader assumes when an event written before lacks it).

Titles and descriptions are free.

Every change a note reports still needs the upgrade order: every model forbids fields it does not know (a producer's
typo is refused, not dropped) and every enum refuses values it does not know, so a consumer of the OLD release
refuses an event carrying a new field or value, and parks an event type it has never heard of. A release that adds
any of these upgrades the topic's consumers before its producers (docs/deploy.md, "Upgrade").

The same check, with the same rules, covers what every event travels in and on:

- the envelope (`contracts/schemas/envelope.json`): a change to it is a change to every event on every topic,
  the forever-retained ones included; its `schema_version` is 1, and a reader parks any other;
- the topics (`contracts/schemas/topics.json`): an existing topic's key, partition count and compaction never
  change, since a key's messages are in order only within one partition, and another key or partition count moves
  keys to other partitions, out of order with what is still queued in the old ones (an AO's batches, a learner's
  history). A new topic and a new event type on a topic are notes; a retention changed is a note; a topic removed,
  or an event type it no longer carries, is refused;
- the event types: a committed snapshot without a registered model is an event type removed, refused, since its
  events stay on the forever-retained logs and must stay readable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import EVENT_TYPES, schema_of
from lrs_contracts.topics import ALL_TOPICS

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas"
ENVELOPE_SNAPSHOT = SNAPSHOT_DIR / "envelope.json"
TOPICS_SNAPSHOT = SNAPSHOT_DIR / "topics.json"

Schema = dict[str, Any]

# Keywords that restrict a value of a type: any change of one is incompatible (see the module's docstring).
CONSTRAINTS = (
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)

_REF = "#/$defs/"
_REF_NAME = "$lrs-compatibility-ref"  # marks a resolved $ref's copy, so that a recursive model ends the walk
_ABSENT = object()


def snapshot_path(event_type: str) -> Path:
    return SNAPSHOT_DIR / f"{event_type}.json"


@dataclass
class Changes:
    """What a new schema changed against an old one: `incompatible` needs a v2, `notes` are allowed within a v1."""

    incompatible: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, compared: Changes, incompatible_as: str, notes_as: str | None = None) -> None:
        """Add what `compared` found, each line after its subject: `incompatible_as`, and `notes_as` for its notes
        (the same when not given)."""
        self.incompatible.extend(f"{incompatible_as}{line}" for line in compared.incompatible)
        self.notes.extend(f"{notes_as or incompatible_as}{line}" for line in compared.notes)


def changes(old: Schema, new: Schema) -> Changes:
    """Every difference between the old and the new schema of an event that a consumer could notice."""
    walker = _Walker(old, new)
    walker.value(old, new, "")
    return walker.found


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Reasons why `new` breaks the `.vN` contract `old` published (empty when compatible)."""
    return changes(old, new).incompatible


def _resolve(schema: Any, root: Schema) -> Schema:
    """The schema a `$ref` names (its siblings laid over it); `True` is any value."""
    if schema is True:
        return {}
    if not isinstance(schema, dict):
        return {"not": {}}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        name = ref.removeprefix(_REF)
        target = _resolve(root.get("$defs", {})[name], root)
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return {**target, **siblings, _REF_NAME: name}
    return schema


def _members(schema: Any, root: Schema) -> list[Schema]:
    """The alternatives a value may be, each without `anyOf`/`oneOf`/`allOf` or a list of types."""
    schema = _resolve(schema, root)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            return [member for option in schema[keyword] for member in _members(option, root)]
    if "allOf" in schema:
        merged: Schema = {key: value for key, value in schema.items() if key != "allOf"}
        for part in schema["allOf"]:
            for key, value in _resolve(part, root).items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return _members(merged, root)
    if isinstance(schema.get("type"), list):
        return [{**schema, "type": one} for one in schema["type"]]
    return [schema]


def _enum_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _kind(schema: Schema) -> str:
    """What a consumer parses a value as; two members of one kind are compared further, two kinds are two types."""
    values = _enum_values(schema)
    if values is not None:
        declared = schema.get("type")
        types = {declared} if isinstance(declared, str) else {_json_type(value) for value in values}
        return f"enum:{'|'.join(sorted(types))}"
    if "not" in schema and len(schema) == 1:
        return "nothing"
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    return "object" if "properties" in schema or "additionalProperties" in schema else "any"


def _by_kind(schema: Any, root: Schema) -> dict[str, list[Schema]]:
    by_kind: dict[str, list[Schema]] = {}
    for member in _members(schema, root):
        by_kind.setdefault(_kind(member), []).append(member)
    return by_kind


def _options(by_kind: dict[str, list[Schema]], tagged: set[str], root: Schema) -> dict[str, Schema]:
    """The members of a value by kind; in a kind with several members on either side (a tagged union's objects),
    each member told apart by its constant fields, or else its name."""
    options: dict[str, Schema] = {}
    for kind, group in by_kind.items():
        if kind not in tagged:
            options[kind] = group[0]
            continue
        for position, member in enumerate(group):
            options[f"{kind}:{_tag(member, root) or position}"] = member
    return options


def _tag(member: Schema, root: Schema) -> str:
    constants = []
    for name, prop in sorted(member.get("properties", {}).items()):
        values = _enum_values(_resolve(prop, root))
        if values is not None and len(values) == 1:
            constants.append(f"{name}={values[0]}")
    return ",".join(constants) or str(member.get(_REF_NAME, member.get("title", "")))


def _signature(schema: Any, root: Schema, depth: int = 0) -> str:
    """How a type reads in a message: `integer|null`, `array[string]`, `string enum`, `map[integer]`."""
    parts = set()
    for member in _members(schema, root):
        kind = _kind(member)
        if kind.startswith("enum:"):
            parts.add(f"{kind.removeprefix('enum:')} enum")
        elif kind == "array" and depth < 8:
            items = member.get("items")
            parts.add(f"array[{_signature(items, root, depth + 1) if items is not None else 'any'}]")
        elif kind == "object" and "properties" not in member and depth < 8:
            values = member.get("additionalProperties", True)
            parts.add("object" if values is False else f"map[{_signature(values, root, depth + 1)}]")
        else:
            parts.add(kind)
    return "|".join(sorted(parts, key=lambda part: (part == "null", part)))


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Walker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root, self.new_root = old_root, new_root
        self.found = Changes()
        self._open: set[tuple[str, str]] = set()

    def incompatible(self, path: str, text: str) -> None:
        self.found.incompatible.append(f"{path or '(payload)'}: {text}")

    def note(self, path: str, text: str) -> None:
        self.found.notes.append(f"{path or '(payload)'}: {text}")

    def value(self, old: Any, new: Any, path: str) -> None:
        """Compare what a value may be, member by member."""
        old_kinds, new_kinds = _by_kind(old, self.old_root), _by_kind(new, self.new_root)
        tagged = {kind for kinds in (old_kinds, new_kinds) for kind, group in kinds.items() if len(group) > 1}
        old_options = _options(old_kinds, tagged, self.old_root)
        new_options = _options(new_kinds, tagged, self.new_root)
        if set(old_options) != set(new_options):
            before, after = _signature(old, self.old_root), _signature(new, self.new_root)
            if before == after:  # one of several objects (a tagged union's member) came or went
                gone, came = sorted(set(old_options) - set(new_options)), sorted(set(new_options) - set(old_options))
                self.incompatible(path, f"alternatives changed: {gone} removed, {came} added")
            else:
                nullable = ""
                if set(old_options) ^ set(new_options) == {"null"}:
                    nullable = " (it may now be null)" if "null" in new_options else " (it may no longer be null)"
                self.incompatible(path, f"type changed from {before} to {after}{nullable}")
        for option in sorted(set(old_options) & set(new_options)):
            self.member(old_options[option], new_options[option], path)

    def member(self, old: Schema, new: Schema, path: str) -> None:
        """Compare two members of one kind."""
        old_values, new_values = _enum_values(old), _enum_values(new)
        if old_values is not None and new_values is not None:
            for removed in (value for value in old_values if value not in new_values):
                self.incompatible(path, f"enum value {_show(removed)} removed")
            for added in (value for value in new_values if value not in old_values):
                self.note(path, f"new enum value {_show(added)}")
        for keyword in CONSTRAINTS:
            before, after = old.get(keyword, _ABSENT), new.get(keyword, _ABSENT)
            if before == after:
                continue
            if before is _ABSENT:
                self.incompatible(path, f"{keyword} {_show(after)} added")
            elif after is _ABSENT:
                self.incompatible(path, f"{keyword} {_show(before)} removed")
            else:
                self.incompatible(path, f"{keyword} changed from {_show(before)} to {_show(after)}")
        kind = _kind(old)
        if kind == "array":
            self.array(old, new, path)
        elif kind == "object":
            with self.once(old, new) as first:
                if first:
                    self.object(old, new, path)

    @contextmanager
    def once(self, old: Schema, new: Schema) -> Iterator[bool]:
        """False inside a comparison of the same two named models: a recursive model is compared once."""
        key = (str(old.get(_REF_NAME, "")), str(new.get(_REF_NAME, "")))
        if not all(key):
            yield True
            return
        if key in self._open:
            yield False
            return
        self._open.add(key)
        try:
            yield True
        finally:
            self._open.discard(key)

    def array(self, old: Schema, new: Schema, path: str) -> None:
        old_tuple, new_tuple = old.get("prefixItems", []), new.get("prefixItems", [])
        if len(old_tuple) != len(new_tuple):
            self.incompatible(path, f"tuple of {len(old_tuple)} items became one of {len(new_tuple)}")
        for position, (before, after) in enumerate(zip(old_tuple, new_tuple, strict=False)):
            self.value(before, after, f"{path}[{position}]")
        self.value(old.get("items", True), new.get("items", True), f"{path}[]")

    def object(self, old: Schema, new: Schema, path: str) -> None:
        prefix = f"{path}." if path else ""
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(set(new_props) - set(old_props)):
            if name in new_required:
                self.incompatible(f"{prefix}{name}", "new required field")
            else:
                self.note(f"{prefix}{name}", "new optional field")
        for name in sorted(set(old_props) - set(new_props)):
            self.incompatible(f"{prefix}{name}", "field removed")
        common = sorted(set(old_props) & set(new_props))
        for name in common:
            if name in new_required and name not in old_required:
                self.incompatible(f"{prefix}{name}", "optional field became required")
        for name in common:
            if name in old_required and name not in new_required:
                self.incompatible(f"{prefix}{name}", "required field became optional (events may lack it)")
        for name in common:
            before, after = old_props[name], new_props[name]
            if name not in old_required and name not in new_required:
                old_default = before.get("default", _ABSENT) if isinstance(before, dict) else _ABSENT
                new_default = after.get("default", _ABSENT) if isinstance(after, dict) else _ABSENT
                if old_default != new_default:
                    shown = [("none" if value is _ABSENT else _show(value)) for value in (old_default, new_default)]
                    self.note(f"{prefix}{name}", f"default changed from {shown[0]} to {shown[1]}")
            self.value(before, after, f"{prefix}{name}")
        self.unnamed(old.get("additionalProperties", True), new.get("additionalProperties", True), path)

    def unnamed(self, old: Any, new: Any, path: str) -> None:
        """Fields an object does not name: refused (`false`), any (`true`), or a map's values (a schema)."""
        if old is False and new is False:
            return
        if new is False:
            self.incompatible(path, "no longer admits fields or keys the schema does not name")
        elif old is False:
            self.note(path, "now admits fields or keys the schema does not name")
        else:
            self.value(old, new, f"{path}{{}}")


def envelope_schema() -> Schema:
    """The envelope's JSON Schema, as `contracts/schemas/envelope.json` holds it."""
    schema: Schema = Envelope.model_json_schema(mode="validation")
    return schema


def topics_baseline() -> dict[str, dict[str, Any]]:
    """Each topic's name, key, partition count, compaction, retention and the event types it carries, as
    `contracts/schemas/topics.json` holds them."""
    return {
        topic.name: {
            "key": topic.key,
            "partitions": topic.partitions,
            "compacted": topic.compacted,
            "retention": topic.retention,
            "carries": sorted(topic.carries),
        }
        for topic in ALL_TOPICS
    }


def topic_changes(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> Changes:
    """What the topics changed against the committed baseline, each line prefixed with the topic's name."""
    found = Changes()
    for name in sorted(set(new) - set(old)):
        found.notes.append(f"{name}: new topic")
    for name in sorted(set(old) - set(new)):
        found.incompatible.append(f"{name}: topic removed (its events stay on the log, and its consumers read it)")
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        if before["key"] != after["key"]:
            found.incompatible.append(
                f"{name}: key changed from {_show(before['key'])} to {_show(after['key'])}: a key's messages are in"
                " order only within one partition, and keyed otherwise they are spread otherwise"
            )
        if before["partitions"] != after["partitions"]:
            found.incompatible.append(
                f"{name}: partitions changed from {before['partitions']} to {after['partitions']}: keys would move"
                " to other partitions, out of order with their messages still queued in the old ones"
                ' (docs/deploy.md, "Scale")'
            )
        if before["compacted"] != after["compacted"]:
            found.incompatible.append(
                f"{name}: compaction changed from {_show(before['compacted'])} to {_show(after['compacted'])}"
            )
        if before["retention"] != after["retention"]:
            found.notes.append(
                f"{name}: retention changed from {_show(before['retention'])} to {_show(after['retention'])}"
            )
        carried_before, carried_after = set(before["carries"]), set(after["carries"])
        for event_type in sorted(carried_after - carried_before):
            found.notes.append(f"{name}: now carries {event_type}")
        for event_type in sorted(carried_before - carried_after):
            found.incompatible.append(f"{name}: no longer carries {event_type} (its events stay on the topic)")
    return found


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def write_snapshots() -> list[Path]:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    written = []
    for event_type, model in sorted(EVENT_TYPES.items()):
        path = snapshot_path(event_type)
        path.write_text(_dump(schema_of(model)), encoding="utf-8")
        written.append(path)
    ENVELOPE_SNAPSHOT.write_text(_dump(envelope_schema()), encoding="utf-8")
    TOPICS_SNAPSHOT.write_text(_dump(topics_baseline()), encoding="utf-8")
    return [*written, ENVELOPE_SNAPSHOT, TOPICS_SNAPSHOT]


def orphaned_snapshots() -> list[str]:
    """The event types of committed snapshots that no registered model reads any more."""
    baselines = {ENVELOPE_SNAPSHOT.name, TOPICS_SNAPSHOT.name}
    return sorted(
        path.name.removesuffix(".json")
        for path in SNAPSHOT_DIR.glob("*.json")
        if path.name not in baselines and path.name.removesuffix(".json") not in EVENT_TYPES
    )


def check_snapshots() -> Changes:
    """Today's models and topics against the committed snapshots, each line prefixed with its event type, with
    `envelope`, or with its topic."""
    found = Changes()
    for event_type, model in sorted(EVENT_TYPES.items()):
        path = snapshot_path(event_type)
        if not path.exists():
            found.notes.append(f"{event_type}: new event type")
            continue
        found.add(changes(json.loads(path.read_text(encoding="utf-8")), schema_of(model)), f"{event_type}: ")
    for event_type in orphaned_snapshots():
        found.incompatible.append(
            f"{event_type}: event type removed, yet its events stay on the log and must stay readable"
            " (keep its model registered)"
        )
    if ENVELOPE_SNAPSHOT.exists():
        envelope = changes(json.loads(ENVELOPE_SNAPSHOT.read_text(encoding="utf-8")), envelope_schema())
        found.add(envelope, "envelope: ", "envelope (every topic): ")
    else:
        found.notes.append("envelope: no snapshot yet")
    if TOPICS_SNAPSHOT.exists():
        found.add(topic_changes(json.loads(TOPICS_SNAPSHOT.read_text(encoding="utf-8")), topics_baseline()), "topic ")
    else:
        found.notes.append("topics: no snapshot yet")
    return found


def main(argv: Sequence[str]) -> int:
    """Write every event's snapshot, the envelope's and the topics' if nothing changed incompatibly; notes and
    refusals go to stderr.

    `--check` compares only and writes nothing.
    """
    found = check_snapshots()
    for line in found.notes:
        print(f"note: {line} (allowed within the version: upgrade the topic's consumers first)", file=sys.stderr)
    for line in found.incompatible:
        print(f"incompatible: {line}", file=sys.stderr)
    if found.incompatible:
        print(
            "snapshots not written: publish a v2 event type (or topic) instead (contracts/schemas/ is the published"
            " contract)",
            file=sys.stderr,
        )
        return 1
    if "--check" not in argv:
        sys.stdout.writelines(f"{written_path.name}\n" for written_path in write_snapshots())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
