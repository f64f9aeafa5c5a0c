"""How the identifiers every API takes are spelt, for `Field(pattern=...)` and `Query(pattern=...)`; an AO id's
and a UKPRN's as types (`AoIdText`, `UkprnText`) that refuse a value in words, not with the pattern."""

import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

ULN_PATTERN = r"^[1-9][0-9]{9}$"
"""A Unique Learner Number: ten digits, the first not 0 (its check digit is judged by the rules, RV002)."""

UKPRN_PATTERN = r"^[0-9]{8}$"
"""A learning provider's UK Provider Reference Number: eight digits."""

AO_ID_PATTERN = r"^RN[0-9]{1,8}$"
"""An awarding organisation's recognition number, as Ofqual's register spells it: RN5133."""

AO_ID_SAID = "an AO id is RN followed by 1 to 8 digits, e.g. RN9093"
UKPRN_SAID = "a UKPRN is 8 digits"


def registers_ao_id(value: str) -> str:
    """An AO id as the register spells it, in capitals (`rn9093` is RN9093, as a batch's header reads it); a value
    that is none in any case is refused in words (`AO_ID_SAID`)."""
    upper = value.upper()
    if not value.isascii() or not re.fullmatch(AO_ID_PATTERN, upper):
        raise ValueError(AO_ID_SAID)
    return upper


def _ukprn(value: str) -> str:
    if not value.isascii() or not re.fullmatch(UKPRN_PATTERN, value):
        raise ValueError(UKPRN_SAID)
    return value


class _Documented:
    """A text's pattern in its JSON schema, as `Field(pattern=...)` writes it, though a validator judges it."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.pattern}


AoIdText = Annotated[str, AfterValidator(registers_ao_id), _Documented(AO_ID_PATTERN)]
"""An AO id a route takes (a query, a path, a body's field): `registers_ao_id`'s, its pattern documented as it is."""

UkprnText = Annotated[str, AfterValidator(_ukprn), _Documented(UKPRN_PATTERN)]
"""A UKPRN a route takes, refused in words (`UKPRN_SAID`), its pattern documented as it is."""


def is_uuid(text: str) -> bool:
    """Whether `text` spells a UUID (as `uuid.UUID` reads one)."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
