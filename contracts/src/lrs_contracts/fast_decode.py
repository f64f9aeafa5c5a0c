"""Fast decoding of events that were validated when they were written (decision 0033).

orjson parses a record into plain structures; the contract models are then assembled from them
without running pydantic, by a builder generated for each model from its own fields: names,
defaults, nesting, enums, literals, constraints (pattern, min/max length, bounds) and its `after`
field validators. So the contracts stay the one source of truth, and the result is the very models
the registry's `decode` returns.

A builder takes only the JSON pydantic itself writes. For anything else (bad JSON, a missing or
unknown field, a number where a string belongs, an unusual date or UUID spelling, a broken
constraint, an unknown event type) it raises `NotFast`, and the caller decodes the record with the
validating `lrs_contracts.registry.decode`, which has the final word and the precise error.
`contracts/tests/test_fast_decode.py` proves both halves on generated events.

    envelope, payload = decode_fast(raw)   # or: except NotFast: envelope, payload = decode(raw)

A reader that needs the values but not the models (the PLR rebuild) takes them plain, with the
same checks: `decode_plain(raw)` gives the envelope and the payload as tuples of their fields'
values in the models' field order (`plain_fields(model)`), a nested model as such a tuple, a UUID
as its canonical text, everything else as the model holds it.

The way out has its fast path too, for a producer of many events at once (validation's decision):
`EnvelopeWriter` writes exactly the bytes of `encode(wrap(payload, ...))` with one serialisation of
the payload instead of dump, validate and dump again, and `DerivedIds` gives `deterministic_id`
of many ids under one prefix as text, hashing the prefix once.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import inspect
import json
import re
import types
import typing
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar, Union

import annotated_types
import orjson
from pydantic import BaseModel

from lrs_contracts.envelope import LRS_NAMESPACE, Contract, Envelope
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome, RecordStatus
from lrs_contracts.registry import EVENT_TYPES

ModelT = TypeVar("ModelT", bound=BaseModel)
TextT = TypeVar("TextT")
ParsedT = TypeVar("ParsedT")
Builder = Callable[[Any], Any]


class NotFast(ValueError):
    """The fast path does not take this record: decode it with the validating registry."""


class _Unsupported(Exception):
    """A model uses a pydantic feature the generated builders do not reproduce."""


_MISSING = object()
# Only the spellings pydantic writes; every other spelling is left to pydantic.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# An offset's hours and minutes as pydantic reads them: `fromisoformat` also takes +00:99 (1 h 39 min), which it refuses
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_CONFIG_KEYS = {"frozen", "extra", "title", "json_schema_extra"}
_new_object = object.__new__
_set_slot = object.__setattr__


def _refuse(reason: str) -> NotFast:
    return NotFast(reason)


def _to_uuid(
    value: Any,
    _match: Callable[[str], Any] = _UUID.fullmatch,
    _uuid: type[uuid.UUID] = uuid.UUID,
    _unknown: uuid.SafeUUID = uuid.SafeUUID.unknown,
) -> uuid.UUID:
    if value.__class__ is not str or not _match(value):
        raise _refuse("uuid")
    # What `uuid.UUID(hex)` ends with, without its handling of other spellings (half the time).
    result = _new_object(_uuid)
    _set_slot(result, "int", int(value.replace("-", ""), 16))
    _set_slot(result, "is_safe", _unknown)
    return result


def _to_uuid_text(value: Any, _match: Callable[[str], Any] = _UUID.fullmatch) -> str:
    if value.__class__ is not str or not _match(value):
        raise _refuse("uuid")
    text: str = value.lower()
    return text


class ParsedTexts(dict[TextT, ParsedT]):
    """Texts already parsed into dates or times, at most `MEMO_SIZE` of them: an event's date and time repeat across
    a batch. `parsed[text]` parses a text not seen yet and remembers what it gave; a parse that raises leaves
    nothing behind."""

    __slots__ = ("_parse",)

    def __init__(self, parse: Callable[[TextT], ParsedT]) -> None:
        super().__init__()
        self._parse = parse

    def __missing__(self, text: TextT) -> ParsedT:
        parsed = self._parse(text)
        if len(self) >= MEMO_SIZE:
            self.clear()
        self[text] = parsed
        return parsed


class _Checked(dict[str, str]):
    """Texts that passed a field's costly check (a pattern, a UUID's spelling: a regular expression
    each), with their plain value: an event's type and batch id repeat across a batch's events. Like
    `_Memo`, it turns itself off for a field whose texts rarely repeat (an event's id)."""

    __slots__ = ("hits", "on")

    def __init__(self) -> None:
        super().__init__()
        self.hits = 0
        self.on = True

    def remember(self, text: str, value: str) -> None:
        if len(self) >= MEMO_SIZE:
            self.on = self.hits >= MEMO_SIZE  # at least as many hits as misses since the last review
            self.clear()
            self.hits = 0
        if self.on:
            self[text] = value


def _to_date(value: Any) -> date:
    if value.__class__ is not str or not _DATE.fullmatch(value):
        raise _refuse("date")
    return date.fromisoformat(value)


def _to_datetime(value: Any) -> datetime:
    if value.__class__ is not str or not _DATETIME.fullmatch(value):
        raise _refuse("datetime")
    return datetime.fromisoformat(value)


def _identity(value: Any) -> Any:
    return value


# --- constraints --------------------------------------------------------------------------------


class _Constraints:
    """The constraints pydantic takes from a field's metadata, for a str or an int."""

    def __init__(self, metadata: list[Any]) -> None:
        self.pattern: re.Pattern[str] | None = None
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.bounds: list[tuple[str, Any]] = []
        for item in metadata:
            if isinstance(item, annotated_types.MinLen):
                self.min_length = item.min_length
            elif isinstance(item, annotated_types.MaxLen):
                self.max_length = item.max_length
            elif isinstance(item, annotated_types.Ge | annotated_types.Gt | annotated_types.Le | annotated_types.Lt):
                operator = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
                for name, symbol in operator.items():
                    if hasattr(item, name):
                        self.bounds.append((symbol, getattr(item, name)))
            elif type(item).__name__ == "_PydanticGeneralMetadata" and set(vars(item)) == {"pattern"}:
                self.pattern = re.compile(vars(item)["pattern"])
            else:
                raise _Unsupported(f"field metadata {item!r}")

    @property
    def for_str(self) -> bool:
        return not self.bounds

    @property
    def for_int(self) -> bool:
        return self.pattern is None and self.min_length is None and self.max_length is None

    def inline(self, index: int, annotation: type, namespace: dict[str, Any]) -> list[str]:
        """The checks as statements on `v`, for a generated builder; a text that matched the pattern
        is remembered (`_Checked`)."""
        name = annotation.__name__
        conditions = [f"v.__class__ is not {name}"]
        if self.min_length is not None:
            conditions.append(f"len(v) < {self.min_length}")
        if self.max_length is not None:
            conditions.append(f"len(v) > {self.max_length}")
        for number, (symbol, bound) in enumerate(self.bounds):
            namespace[f"_b{index}_{number}"] = bound
            conditions.append(f"not v {symbol} _b{index}_{number}")
        lines = [f"if {' or '.join(conditions)}: raise _refuse('{name}')"]
        if self.pattern is None:
            return lines
        namespace[f"_p{index}"] = self.pattern
        namespace[f"_s{index}"] = _Checked()
        return [
            *lines,
            f"if v in _s{index}:",
            f"    _s{index}.hits += 1",
            "else:",
            # pydantic's regex engine reads `$` as the very end; Python's also before a final newline
            f"    if '\\n' in v or not _p{index}.search(v): raise _refuse('{name}')",
            f"    if _s{index}.on: _s{index}.remember(v, v)",
        ]

    def str_checks(self, value: Any) -> bool:
        if value.__class__ is not str:
            return False
        if self.pattern is not None and ("\n" in value or not self.pattern.search(value)):
            # pydantic's regex engine reads `$` as the very end; Python's also before a final newline
            return False
        if self.min_length is not None and len(value) < self.min_length:
            return False
        return self.max_length is None or len(value) <= self.max_length

    def int_checks(self, value: Any) -> bool:
        if value.__class__ is not int:
            return False
        for symbol, bound in self.bounds:
            if not {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[symbol]:
                return False
        return True


# --- converters ---------------------------------------------------------------------------------


def _is_optional(annotation: Any) -> Any | None:
    """The inner type of `X | None`, else None."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        options = [option for option in typing.get_args(annotation) if option is not type(None)]
        if len(options) == 1 and len(typing.get_args(annotation)) == 2:
            return options[0]
        raise _Unsupported(f"union {annotation!r}")
    return None


def _converter(annotation: Any, metadata: list[Any], plain: bool) -> Builder:
    """A function from the parsed JSON value to the field's value (`plain`: its plain value); raises
    on anything unusual."""
    inner = _is_optional(annotation)
    if inner is not None:
        convert_inner = _converter(inner, metadata, plain)

        def optional(value: Any) -> Any:
            return None if value is None else convert_inner(value)

        return optional
    constraints = _Constraints(metadata)
    if annotation is str:
        if not constraints.for_str:
            raise _Unsupported("bounds on a str")

        def text(value: Any) -> str:
            if not constraints.str_checks(value):
                raise _refuse("str")
            result: str = value
            return result

        return text
    if annotation is int:
        if not constraints.for_int:
            raise _Unsupported("str constraints on an int")

        def integer(value: Any) -> int:
            if not constraints.int_checks(value):
                raise _refuse("int")
            result: int = value
            return result

        return integer
    if metadata:
        raise _Unsupported(f"constraints on {annotation!r}")
    if annotation is bool:

        def boolean(value: Any) -> bool:
            if value.__class__ is not bool:
                raise _refuse("bool")
            result: bool = value
            return result

        return boolean
    if annotation is uuid.UUID:
        return _to_uuid_text if plain else _to_uuid
    if annotation is datetime:
        return ParsedTexts(_to_datetime).__getitem__ if plain else _to_datetime
    if annotation is date:
        return ParsedTexts(_to_date).__getitem__ if plain else _to_date
    if annotation is Any:
        return _identity
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_converter(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return plain_builder_for(annotation) if plain else builder_for(annotation)
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is Literal:
        return _literal_converter(arguments)
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        item = _converter(arguments[0], [], plain)

        def sequence(value: Any) -> tuple[Any, ...]:
            if value.__class__ is not list:
                raise _refuse("array")
            return tuple([item(element) for element in value])

        return sequence
    if origin is dict and arguments[0] is str:
        element = _converter(arguments[1], [], plain)
        if element is _identity:

            def plain_mapping(value: Any) -> dict[str, Any]:
                if value.__class__ is not dict:
                    raise _refuse("object")
                result: dict[str, Any] = value  # freshly parsed, owned by nobody else
                return result

            return plain_mapping

        def mapping(value: Any) -> dict[str, Any]:
            if value.__class__ is not dict:
                raise _refuse("object")
            return {key: element(item) for key, item in value.items()}

        return mapping
    raise _Unsupported(f"type {annotation!r}")


def _enum_converter(enum_type: type[enum.Enum]) -> Builder:
    members = {member.value: member for member in enum_type}
    value_types = {type(value) for value in members}
    if len(value_types) != 1 or not value_types <= {str, int}:
        raise _Unsupported(f"enum {enum_type!r}")
    value_type = value_types.pop()

    def member_of(value: Any) -> enum.Enum:
        member = members.get(value) if value.__class__ is value_type else None
        if member is None:
            raise _refuse("enum")
        return member

    return member_of


def _literal_converter(values: tuple[Any, ...]) -> Builder:
    if not all(type(value) in (str, int) for value in values):
        raise _Unsupported(f"literal {values!r}")
    allowed = {(type(value), value) for value in values}

    def literal(value: Any) -> Any:
        if (value.__class__, value) not in allowed:
            raise _refuse("literal")
        return value

    return literal


# --- builders -----------------------------------------------------------------------------------

_BUILDERS: dict[type[BaseModel], Builder] = {}
_PLAIN_BUILDERS: dict[type[BaseModel], Builder] = {}
FAST_MODELS: set[type[BaseModel]] = set()
PLAIN_MODELS: set[type[BaseModel]] = set()
_SCALARS = (str, int, bool, uuid.UUID, date, datetime)
MEMO_SIZE = 4096


class _Memo:
    """Models already built, by their JSON values; it turns itself off for models that rarely repeat
    (an achievement's key, say), where remembering would only cost."""

    def __init__(self) -> None:
        self.models: dict[tuple[Any, ...], Any] = {}
        self.hits = 0
        self.on = True

    def remember(self, key: tuple[Any, ...], model: Any) -> None:
        if len(self.models) >= MEMO_SIZE:
            self.on = self.hits >= MEMO_SIZE  # at least as many hits as misses since the last review
            self.models.clear()
            self.hits = 0
        if self.on:
            self.models[key] = model


def _after_validators(model: type[BaseModel]) -> dict[str, list[Builder]]:
    decorators = model.__pydantic_decorators__
    if decorators.model_validators or decorators.validators or decorators.root_validators:
        raise _Unsupported("model validators")
    after: dict[str, list[Builder]] = {}
    for decorator in decorators.field_validators.values():
        info = decorator.info
        if info.mode != "after" or "*" in info.fields or len(inspect.signature(decorator.func).parameters) != 1:
            raise _Unsupported(f"validator {decorator.cls_var_name}")
        for name in info.fields:
            after.setdefault(name, []).append(decorator.func)
    return after


def _field_lines(
    index: int, annotation: Any, metadata: list[Any], namespace: dict[str, Any], plain: bool, after: list[str]
) -> list[str]:
    """Statements turning the JSON value `v` into `f<index>`, then `after` (its validators): inline
    for plain strings, integers and literals (most fields), a call of a converter for the rest. The
    plain values are inline too: a UUID's text, and a date or time remembered with its validators
    (a batch's events share them)."""
    target = f"f{index}"
    inner = _is_optional(annotation)
    if inner is not None:
        inner_lines = _field_lines(index, inner, metadata, namespace, plain, [])
        return ["if v is None:", f"    {target} = None", "else:", *(f"    {line}" for line in inner_lines), *after]
    if plain and annotation is uuid.UUID and not metadata:
        namespace["_uuid"] = _UUID.fullmatch
        namespace[f"_s{index}"] = _Checked()
        return [
            "if v.__class__ is not str: raise _refuse('uuid')",
            f"{target} = _s{index}.get(v)",
            f"if {target} is None:",
            "    if not _uuid(v): raise _refuse('uuid')",
            f"    {target} = v.lower()",
            f"    if _s{index}.on: _s{index}.remember(v, {target})",
            "else:",
            f"    _s{index}.hits += 1",
            *after,
        ]
    if plain and annotation in (date, datetime) and not metadata:
        namespace[f"_c{index}"] = _to_date if annotation is date else _to_datetime
        namespace[f"_m{index}"] = {}
        return [
            f"{target} = _m{index}.get(v)",
            f"if {target} is None:",
            f"    {target} = _c{index}(v)",
            *(f"    {line}" for line in after),
            f"    if len(_m{index}) >= {MEMO_SIZE}: _m{index}.clear()",
            f"    _m{index}[v] = {target}",
        ]
    if annotation in (str, int) and not metadata:
        return [
            f"if v.__class__ is not {annotation.__name__}: raise _refuse('{annotation.__name__}')",
            f"{target} = v",
            *after,
        ]
    if annotation in (str, int):
        constraints = _Constraints(metadata)
        if not (constraints.for_str if annotation is str else constraints.for_int):
            raise _Unsupported(f"constraints {metadata!r} on {annotation.__name__}")
        return [*constraints.inline(index, annotation, namespace), f"{target} = v", *after]
    if typing.get_origin(annotation) is Literal and len(typing.get_args(annotation)) == 1 and not metadata:
        (value,) = typing.get_args(annotation)
        if type(value) not in (str, int):
            raise _Unsupported(f"literal {value!r}")
        namespace[f"_l{index}"] = value
        return [
            f"if v.__class__ is not {type(value).__name__} or v != _l{index}: raise _refuse('literal')",
            f"{target} = v",
            *after,
        ]
    namespace[f"_c{index}"] = _converter(annotation, metadata, plain)
    return [f"{target} = _c{index}(v)", *after]


def _is_scalar(annotation: Any) -> bool:
    inner = _is_optional(annotation)
    annotation = inner if inner is not None else annotation
    if typing.get_origin(annotation) is Literal:
        return True
    return isinstance(annotation, type) and (issubclass(annotation, _SCALARS) or issubclass(annotation, enum.Enum))


def _model_fields(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, list[Builder]], bool]:
    """The model's fields, their `after` validators, and whether it forbids other fields;
    `_Unsupported` for a model the generated builders do not reproduce."""
    config = model.model_config
    if set(config) - _CONFIG_KEYS or config.get("extra", "ignore") not in ("forbid", "ignore"):
        raise _Unsupported(f"config {dict(config)!r}")
    if model.__pydantic_root_model__ or model.__pydantic_post_init__ or model.__private_attributes__:
        raise _Unsupported("root model, post-init or private attributes")
    return dict(model.model_fields), _after_validators(model), config.get("extra") == "forbid"


def _read_lines(
    index: int,
    name: str,
    field: Any,
    var: str,
    count: str,
    namespace: dict[str, Any],
    plain: bool,
    validators: dict[str, list[Builder]],
) -> list[str]:
    """Statements reading the field `name` of the dict `var` into `f<index>`, counting in `count`
    the optional fields present."""
    if field.alias is not None or field.validation_alias is not None or field.default_factory is not None:
        raise _Unsupported(f"{name}: alias or default factory")
    after = []
    for number, validator in enumerate(validators.get(name, [])):
        namespace[f"_v{index}_{number}"] = validator
        after.append(f"f{index} = _v{index}_{number}(f{index})")
    convert = _field_lines(index, field.annotation, list(field.metadata), namespace, plain, after)
    if field.is_required():
        return [f"v = {var}[{name!r}]", *convert]
    try:
        hash(field.default)
    except TypeError as error:
        raise _Unsupported(f"{name}: mutable default") from error
    namespace[f"_d{index}"] = field.default
    return [
        f"v = {var}.get({name!r}, _MISSING)",
        "if v is _MISSING:",
        f"    f{index} = _d{index}",
        "else:",
        f"    {count} += 1",
        *(f"    {line}" for line in convert),
    ]


def _generate(model: type[BaseModel], plain: bool) -> Builder:
    """Straight-line Python for one model (as dataclasses writes `__init__`): no loop over fields;
    `plain`: the tuple of the fields' plain values instead of the model.

    A model of scalar fields only (a catalogue summary, a result's data) is remembered by its JSON
    values: events repeat them, and a frozen model can be shared. The memory stays bounded."""
    fields, validators, forbid = _model_fields(model)
    if plain and any(not _keeps_type(fields[name].annotation) for name in validators if name in fields):
        raise _Unsupported("a validator of a field whose plain value is not the model's")
    namespace: dict[str, Any] = {
        "_MODEL": model,
        "_MISSING": _MISSING,
        "_KEYS": tuple(fields),
        "_new": object.__new__,
        "_set": object.__setattr__,
        "_refuse": _refuse,
    }
    memo = forbid and all(_is_scalar(field.annotation) for field in fields.values())
    lines = ["def build(d):", "    if d.__class__ is not dict: raise _refuse('object')"]
    if memo:
        namespace["_memo"] = _Memo()
        lines += [
            "    memo_key = None",
            "    if _memo.on and len(d) == len(_KEYS) and tuple(d) == _KEYS:",
            "        memo_key = tuple(d.values())",
            "        m = _memo.models.get(memo_key)",
            "        if m is not None:",
            "            _memo.hits += 1",
            "            return m",
        ]
    lines.append(f"    n = {sum(1 for field in fields.values() if field.is_required())}")
    values = []
    for index, (name, field) in enumerate(fields.items()):
        lines += [f"    {line}" for line in _read_lines(index, name, field, "d", "n", namespace, plain, validators)]
        values.append(f"{name!r}: f{index}")
    if forbid:
        lines += ["    if len(d) != n: raise _refuse('unknown field')", "    fields_set = set(d)"]
    else:
        namespace["_FIELDS"] = frozenset(fields)
        lines.append("    fields_set = _FIELDS.intersection(d)")
    if plain:
        lines = [line for line in lines if "fields_set" not in line]
        lines.append(f"    m = ({''.join(f'f{index}, ' for index in range(len(fields)))})")
    else:
        lines += [
            "    m = _new(_MODEL)",
            f"    _set(m, '__dict__', {{{', '.join(values)}}})",
            "    _set(m, '__pydantic_fields_set__', fields_set)",
            "    _set(m, '__pydantic_extra__', None)",
            "    _set(m, '__pydantic_private__', None)",
        ]
    if memo:
        lines += ["    if memo_key is not None: _memo.remember(memo_key, m)"]
    lines.append("    return m")
    source = "\n".join(lines)
    exec(compile(source, f"<{'plain' if plain else 'fast'} builder of {model.__name__}>", "exec"), namespace)  # noqa: S102
    build: Builder = namespace["build"]
    build.__doc__ = source  # to read what was generated: print(builder_for(Model).__doc__)
    return build


def _validating(model: type[BaseModel]) -> Builder:
    def build(document: Any) -> Any:
        return model.model_validate(document)

    return build


def builder_for(model: type[ModelT]) -> Callable[[Any], ModelT]:
    """The model's builder: generated when the model uses only what builders reproduce, else
    pydantic's own validation (correct, not fast: the model is then not in `FAST_MODELS`)."""
    if model not in _BUILDERS:
        try:
            _BUILDERS[model] = _generate(model, plain=False)
            FAST_MODELS.add(model)
        except _Unsupported:
            _BUILDERS[model] = _validating(model)
    return _BUILDERS[model]


def _keeps_type(annotation: Any) -> bool:
    """Whether a field's plain value is the model's value (what an `after` validator may check)."""
    inner = _is_optional(annotation)
    annotation = inner if inner is not None else annotation
    return annotation in (str, int, bool, date, datetime) or (
        isinstance(annotation, type) and issubclass(annotation, enum.Enum)
    )


def plain_of(value: Any) -> Any:
    """The plain value of a model's field value (a model: the tuple of its fields' plain values)."""
    if isinstance(value, BaseModel):
        return tuple(plain_of(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple):
        return tuple(plain_of(item) for item in value)
    if isinstance(value, dict):
        return {key: plain_of(item) for key, item in value.items()}
    return value


def plain_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The names of the values in a plain tuple of `model`, in order."""
    return tuple(model.model_fields)


def plain_builder_for(model: type[BaseModel]) -> Builder:
    """The model's plain builder: JSON → the tuple `plain_of(model_validate(JSON))` would give;
    pydantic itself for a model the generator does not reproduce."""
    if model not in _PLAIN_BUILDERS:
        try:
            _PLAIN_BUILDERS[model] = _generate(model, plain=True)
            PLAIN_MODELS.add(model)
        except _Unsupported:
            validate = _validating(model)

            def build(document: Any) -> Any:
                return plain_of(validate(document))

            _PLAIN_BUILDERS[model] = build
    return _PLAIN_BUILDERS[model]


_ENVELOPE = builder_for(Envelope)
_PAYLOADS: dict[str, Callable[[Any], Contract]] = {
    event_type: builder_for(model) for event_type, model in EVENT_TYPES.items()
}


def decode_fast(raw: bytes | str) -> tuple[Envelope, Contract]:
    """The envelope and payload `registry.decode` would return; `NotFast` where the fast path
    cannot be sure (the validating decoder then decides)."""
    try:
        envelope = _ENVELOPE(orjson.loads(raw))
        payload = _PAYLOADS[envelope.event_type](envelope.data)
    except NotFast:
        raise
    except Exception as error:
        raise NotFast(type(error).__name__) from error
    return envelope, payload


_PLAIN_ENVELOPE = plain_builder_for(Envelope)
_PLAIN_PAYLOADS: dict[str, Builder] = {
    event_type: plain_builder_for(model) for event_type, model in EVENT_TYPES.items()
}
_ENVELOPE_TYPE = plain_fields(Envelope).index("event_type")
_ENVELOPE_DATA = plain_fields(Envelope).index("data")


def decode_plain(raw: bytes | str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """`decode_fast`'s envelope and payload as plain tuples (`plain_of` of the models); `NotFast`
    where the fast path cannot be sure."""
    try:
        envelope = _PLAIN_ENVELOPE(orjson.loads(raw))
        payload = _PLAIN_PAYLOADS[envelope[_ENVELOPE_TYPE]](envelope[_ENVELOPE_DATA])
    except NotFast:
        raise
    except Exception as error:
        raise NotFast(type(error).__name__) from error
    return envelope, payload


# --- flat -----------------------------------------------------------------------------------------


def _flattened(field: Any) -> bool:
    """Whether a field's plain value is spread into the flat tuple: a model it always holds."""
    annotation = field.annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseModel) and field.is_required()


def _flat_lines(
    model: type[BaseModel],
    var: str,
    namespace: dict[str, Any],
    names: list[str],
    prefix: str,
    data: type[BaseModel] | None = None,
) -> list[str]:
    """Statements reading the dict `var` as `model`'s plain builder does, one `f<index>` per plain
    value (`names`: their dotted names), a field `_flattened` as its model's values in its place;
    `data`: the model of the envelope's `data`, read in its place likewise."""
    fields, validators, forbid = _model_fields(model)
    count = f"n{var}"
    first = len(names)
    lines = [f"{count} = {sum(1 for field in fields.values() if field.is_required())}"]
    for name, field in fields.items():
        nested: type[BaseModel] | None = None
        if data is not None and name == "data":
            nested = data
        elif _flattened(field):
            nested = typing.cast(type[BaseModel], field.annotation)
        if nested is not None:
            if name in validators or field.metadata:
                raise _Unsupported(f"{name}: a validator or constraints on a model")
            inner = f"{var}_{len(names)}"
            lines.append(f"{inner} = {var}[{name!r}]")
            lines += _flat_lines(nested, inner, namespace, names, f"{prefix}{name}.")
            continue
        if validators.get(name) and not _keeps_type(field.annotation):
            raise _Unsupported("a validator of a field whose plain value is not the model's")
        lines += _read_lines(len(names), name, field, var, count, namespace, True, validators)
        names.append(prefix + name)
    if forbid:
        lines.append(f"if len({var}) != {count}: raise _refuse('unknown field')")
    check = f"if {var}.__class__ is not dict: raise _refuse('object')"
    if not (forbid and prefix and all(_is_scalar(field.annotation) for field in fields.values())):
        return [check, *lines]
    # A nested model of scalars is remembered by its JSON values, as its plain builder remembers it:
    # events repeat them (a catalogue summary), and their values are then the same objects.
    namespace[f"_memo{first}"] = _Memo()
    namespace[f"_KEYS{first}"] = tuple(fields)
    values = "".join(f"f{index}, " for index in range(first, len(names)))
    return [
        check,
        f"k{var} = m{var} = None",
        f"if _memo{first}.on and len({var}) == {len(fields)} and tuple({var}) == _KEYS{first}:",
        f"    k{var} = tuple({var}.values())",
        f"    m{var} = _memo{first}.models.get(k{var})",
        f"if m{var} is not None:",
        f"    _memo{first}.hits += 1",
        f"    ({values}) = m{var}",
        "else:",
        *(f"    {line}" for line in lines),
        f"    if k{var} is not None: _memo{first}.remember(k{var}, ({values}))",
    ]


def _generate_flat(payload: type[BaseModel]) -> tuple[Builder, tuple[str, ...]]:
    """Straight-line Python reading a whole event of `payload` (envelope and payload, every nested
    model inline) into the flat tuple of its plain values; and their names."""
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_refuse": _refuse}
    names: list[str] = []
    body = _flat_lines(Envelope, "d", namespace, names, "", data=payload)
    values = "".join(f"f{index}, " for index in range(len(names)))
    source = "\n".join(["def build(d):", *(f"    {line}" for line in body), f"    return ({values})"])
    exec(compile(source, f"<flat builder of {payload.__name__}>", "exec"), namespace)  # noqa: S102
    build: Builder = namespace["build"]
    build.__doc__ = source
    return build, tuple(names)


_FLAT_BUILDERS: dict[str, Builder] = {}
_FLAT_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {}
for _event_type, _model in EVENT_TYPES.items():
    with contextlib.suppress(_Unsupported):  # decode_flat refuses the event type
        _FLAT_BUILDERS[_event_type], _FLAT_FIELDS[_model] = _generate_flat(_model)


def flat_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The names of the values in `decode_flat`'s tuple for an event of `model`, in order: the
    envelope's fields but `data`, then `data.<field>` for the payload's, a model that a field always
    holds spread in its place (`data.key.uln`). KeyError: the event type has no flat builder."""
    return _FLAT_FIELDS[model]


def decode_flat(raw: bytes | str) -> tuple[Any, ...]:
    """What `decode_plain` reads, as one flat tuple (`flat_fields`): no tuple per nested model, no
    envelope holding the parsed payload. `NotFast` where `decode_plain` raises it, and for an event
    type without a flat builder."""
    try:
        document = orjson.loads(raw)
        values: tuple[Any, ...] = _FLAT_BUILDERS[document["event_type"]](document)
    except NotFast:
        raise
    except Exception as error:
        raise NotFast(type(error).__name__) from error
    return values


def flat_of(envelope: Envelope, payload: BaseModel) -> tuple[Any, ...]:
    """`decode_flat`'s tuple for the event the validating decoder reads as `envelope` and `payload`."""

    def values_of(model: BaseModel, data: BaseModel | None) -> list[Any]:
        values: list[Any] = []
        for name, field in type(model).model_fields.items():
            if data is not None and name == "data":
                values += values_of(data, None)
            elif _flattened(field):
                values += values_of(getattr(model, name), None)
            else:
                values.append(plain_of(getattr(model, name)))
        return values

    return tuple(values_of(envelope, payload))


# --- the way out ----------------------------------------------------------------------------------

_PLACEHOLDER_ID = uuid.UUID(int=0)
_EMPTY_DATA = b"{}}"


class EnvelopeWriter:
    """`encode(wrap(payload, source=..., ...))`, byte for byte, for many payloads that share the
    envelope's source, correlation, causation and time.

    The envelope around each event type is serialised by pydantic once, with a placeholder id and
    empty data; each payload is then serialised once, straight to JSON, and spliced in. The shared
    values are validated by that one `Envelope`, so a writer refuses what `wrap` refuses.
    """

    def __init__(self, *, source: str, correlation_id: str, causation_id: str | None, occurred_at: datetime) -> None:
        self._shared = {
            "source": source,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "occurred_at": occurred_at,
        }
        self._around: dict[str, tuple[bytes, bytes]] = {}

    def encode(self, payload: Contract, event_id: uuid.UUID | str, data: bytes | None = None) -> bytes:
        """`data`: the payload's JSON (`payload_json`) when it was serialised already."""
        event_type: str = getattr(payload, "event_type")  # noqa: B009 - every registered payload has one
        around = self._around.get(event_type)
        if around is None:
            around = self._around[event_type] = self._envelope_around(event_type)
        before_id, before_data = around
        if data is None:
            data = payload_json(payload)
        return b"".join((before_id, str(event_id).encode(), before_data, data, b"}"))

    def _envelope_around(self, event_type: str) -> tuple[bytes, bytes]:
        template = Envelope(event_id=_PLACEHOLDER_ID, event_type=event_type, data={}, **self._shared)
        raw = template.model_dump_json().encode()
        before_id, after_id = raw.split(str(_PLACEHOLDER_ID).encode(), 1)
        if not after_id.endswith(_EMPTY_DATA):
            raise AssertionError(f"the envelope no longer ends with its data: {raw!r}")
        return before_id, after_id[: -len(_EMPTY_DATA)]


def payload_json(payload: Contract) -> bytes:
    """A payload's JSON as the envelope carries it in `data`."""
    return payload.__pydantic_serializer__.to_json(payload)


class DerivedIds:
    """`str(deterministic_id(*prefix, *rest))` for many `rest` under one `prefix`.

    uuid5 is SHA-1 over the namespace and the name; the prefix's share of the hash is computed once
    and copied for each id.
    """

    def __init__(self, *prefix: object) -> None:
        self._hash = hashlib.sha1(  # noqa: S324 - uuid5 is SHA-1 by definition (RFC 4122)
            LRS_NAMESPACE.bytes + ("|".join(str(part) for part in prefix) + "|").encode()
        )

    def text(self, *rest: object) -> str:
        hashed = self._hash.copy()
        hashed.update("|".join(str(part) for part in rest).encode())
        digest = bytearray(hashed.digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        hexed = digest.hex()
        return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


_REJECTED = RecordStatus.REJECTED.value


@dataclass(frozen=True)
class Flagged:
    """Rejected records to count apart, under `tally`: those with a finding of `code` whose message starts with
    `message_starts` (the notifier's RV004s that say the learner's record was erased)."""

    code: str
    message_starts: str
    tally: str

    def of(self, errors: Any) -> bool:
        return any(
            finding["code"] == self.code and str(finding.get("message", "")).startswith(self.message_starts)
            for finding in errors
        )


def rejections_by_code(
    data: Any, *, warnings: bool = False, flagged: Flagged | None = None
) -> tuple[uuid.UUID, int, dict[str, int]] | None:
    """A decided chunk's batch id, chunk index and rejected records per code (a record with two codes counts
    under both, a code twice on one record once), and with `warnings` records per warning code too, whatever
    their outcome, and with `flagged` its rejected records so flagged under its tally, from the chunk's parsed JSON
    `data`, without building its models; None when it is not shaped as validation writes it (the validating decoder
    then has the last word)."""
    if not isinstance(data, dict) or not data.keys() <= _CHUNK_FIELDS:
        return None
    batch_id, chunk_index, outcomes = data.get("batch_id"), data.get("chunk_index"), data.get("outcomes")
    if not (isinstance(batch_id, str) and type(chunk_index) is int and chunk_index >= 0 and type(outcomes) is list):
        return None
    counts: Counter[str] = Counter()
    try:
        # a field or a status this release does not know (a newer validation's) is the validating decoder's to refuse,
        # as every other reader of the chunk does: not left out of the tally
        if not _OUTCOME_FIELDS.issuperset(set().union(*outcomes)):
            return None
        for outcome in outcomes:
            status = outcome["status"]
            if status == _REJECTED:
                if errors := outcome["errors"]:
                    counts.update(_known_codes(errors))
                    if flagged is not None and flagged.of(errors):
                        counts[flagged.tally] += 1
            elif status not in _STATUSES:
                return None
            if warnings and (warned := outcome.get("warnings")):
                counts.update(_known_codes(warned))
        return uuid.UUID(batch_id), chunk_index, dict(counts)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _known_codes(findings: Any) -> set[str]:
    """The codes of findings of the fields a finding has, or a KeyError."""
    if not all(finding.keys() <= _FINDING_FIELDS for finding in findings):
        raise KeyError("a finding's field this release does not know")
    return {finding["code"] for finding in findings}


def scanned_rejections_by_code(
    value: bytes, *, warnings: bool = False, flagged: Flagged | None = None
) -> tuple[uuid.UUID, int, dict[str, int]] | None:
    """What `rejections_by_code` answers of a decided chunk's message, read without parsing its accepted
    records: None when the message is not a decided chunk written as validation writes it.

    A chunk is 1,000 outcomes of which a few are rejected or warned of, and parsing them all costs ~3-8 times
    finding those. In the compact JSON pydantic writes, a quote inside a string is always escaped, so
    `"status":"rejected","errors":` occurs only where a rejected outcome's fields are (status, then errors),
    and `"warnings":[{` only where an outcome's warnings are; each array is parsed on its own. The envelope and
    the chunk's head are matched whole from the message's start as validation writes them (a UTC time ending
    `Z`, UUIDs in lower case), and the message must end where the chunk does: anything else (a rejected
    outcome's fields in another order, an envelope written otherwise, bytes after the object) is left to the
    full reading. The accepted outcomes between are not parsed, but counted: each status must be one this release
    knows, and the message must have as many fields as the envelope, the chunk, its outcomes and their findings have
    (a field this release does not know, a newer validation's, is left to the full reading, which refuses it).
    """
    head = _CHUNK_HEAD(value)
    if head is None or not value.endswith(b"]}}"):
        return None
    try:
        text = value.decode()
        counts: Counter[str] = Counter()
        rejected = 0
        at = text.find(_REJECTED_ERRORS)
        while at >= 0:
            errors, end = _JSON.raw_decode(text, at + len(_REJECTED_ERRORS))
            counts.update(_codes(errors))
            if flagged is not None and flagged.of(errors):
                counts[flagged.tally] += 1
            rejected += 1
            at = text.find(_REJECTED_ERRORS, end)
        rejected_statuses = value.count(_REJECTED_STATUS_BYTES)
        if rejected != rejected_statuses:
            return None
        at = text.find(_WARNINGS) if warnings else -1
        while at >= 0:
            warned, end = _JSON.raw_decode(text, at + len(_WARNINGS) - 2)
            counts.update(_codes(warned))
            at = text.find(_WARNINGS, end)
        # Every field counted, each outcome's status among them as one this release knows. A field's name ends `":`;
        # so does a quote in a text, escaped (`\":`), and a text's start before a colon (`:":`), never a text's end
        # (`",` `"}`). An outcome of another status, or a field this release does not know, leaves more fields than
        # the known outcomes and findings have: the full reading then refuses it.
        fields = value.count(b'":') - value.count(b':":') - (value.count(b'\\":') if b"\\" in value else 0)
        known = rejected_statuses + sum(value.count(status) for status in _OTHER_STATUSES)
        findings = value.count(b'"code":"')
        if fields != _HEAD_FIELDS + _OUTCOME_FIELD_COUNT * known + _FINDING_FIELD_COUNT * findings:
            return None
        datetime.fromisoformat(head[1].decode())  # a moment of the calendar, or a ValueError
        return uuid.UUID(head[2].decode()), int(head[3]), dict(counts)
    except (KeyError, TypeError, ValueError):
        return None


def _codes(findings: Any) -> set[str]:
    codes = {finding["code"] for finding in findings}
    if not all(type(code) is str and _FINDING_CODE(code) for code in codes):
        raise TypeError("a finding's code is not a string of its pattern")
    return codes


_FINDING_CODE = re.compile(r"(?:RV|WV)[0-9]{3}").fullmatch
_CHUNK_HEAD = re.compile(
    (
        rb'\{"event_id":"U","event_type":"C","occurred_at":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
        rb'(?:\.[0-9]{6})?Z)","source":"N","correlation_id":"N","causation_id":(?:"S"|null),'
        rb'"schema_version":1,"data":\{"event_type":"C","batch_id":"(U)",'
        rb'"ao_id":"S","chunk_index":(0|[1-9][0-9]{0,8}),"outcomes":\['
    )
    .replace(b"C", re.escape(BatchRecordsDecided.model_fields["event_type"].default.encode()))
    .replace(b"S", rb"[\x20\x21\x23-\x5b\x5d-\xff]*+")
    .replace(b"N", rb"[\x20\x21\x23-\x5b\x5d-\xff]++")
    .replace(b"U", rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
).match
_REJECTED_STATUS = f'"status":"{_REJECTED}"'
_REJECTED_STATUS_BYTES = _REJECTED_STATUS.encode()
_STATUSES = frozenset(status.value for status in RecordStatus)
_OTHER_STATUSES = tuple(f'"status":"{status}"'.encode() for status in sorted(_STATUSES - {_REJECTED}))
_CHUNK_FIELDS = frozenset(BatchRecordsDecided.model_fields)
_OUTCOME_FIELDS = frozenset(RecordOutcome.model_fields)
_FINDING_FIELDS = frozenset(Finding.model_fields)
# the fields of a decided chunk's message: the envelope's but its data, the chunk's, and each outcome's and finding's
# (pydantic writes every field, defaults included)
_HEAD_FIELDS = len(Envelope.model_fields) + len(_CHUNK_FIELDS)
_OUTCOME_FIELD_COUNT = len(_OUTCOME_FIELDS)
_FINDING_FIELD_COUNT = len(_FINDING_FIELDS)
_REJECTED_ERRORS = _REJECTED_STATUS + ',"errors":'
_WARNINGS = '"warnings":[{'
_JSON = json.JSONDecoder()
