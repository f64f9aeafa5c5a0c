"""How the identifiers every API takes are spelt, for `Field(pattern=...)` and `Query(pattern=...)`."""

import uuid

ULN_PATTERN = r"^[1-9][0-9]{9}$"
"""A Unique Learner Number: ten digits, the first not 0 (its check digit is judged by the rules, RV002)."""

UKPRN_PATTERN = r"^[0-9]{8}$"
"""A learning provider's UK Provider Reference Number: eight digits."""

AO_ID_PATTERN = r"^RN[0-9]{1,8}$"
"""An awarding organisation's recognition number, as Ofqual's register spells it: RN5133."""


def is_uuid(text: str) -> bool:
    """Whether `text` spells a UUID (as `uuid.UUID` reads one)."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
