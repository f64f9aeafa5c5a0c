"""The parameter types of every argument and option that names a learner (ULN) or an awarding organisation (AO id):
a value no service would take is a usage error (exit status 2) in one line, said as `lrs plr show` says it, before
any service is asked (which would answer 422, exit status 1, in the API's words)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from lrs_cli.client import UsageError
from lrs_contracts.identifiers import AO_ID_PATTERN
from lrs_domain.identifiers import TEMPORARY_ULN, has_valid_uln_check_digit, is_well_formed_uln

_AO_ID = re.compile(AO_ID_PATTERN)


def checked_uln(uln: str, *, check_digit: bool = True) -> str:
    """The ULN, or a UsageError saying why no learner has it; `check_digit=False` leaves a wrong check digit to the
    command (`lrs learners erase --mistyped`)."""
    if not is_well_formed_uln(uln):
        raise UsageError(f"ULN {uln!r} is badly formed (RV001): a ULN is 10 digits, the first not 0")
    if uln == TEMPORARY_ULN:  # judged before the check digit, as the rules judge it
        raise UsageError(f"ULN {uln} is the temporary ULN (RV003): no learner has it, use the learner's own ULN")
    if check_digit and not has_valid_uln_check_digit(uln):
        raise UsageError(f"the check digit of ULN {uln} is wrong (RV002): a digit was mistyped, no learner has it")
    return uln


def uln_value(value: str | None) -> str | None:
    """A parameter callback for a learner's ULN."""
    return None if value is None else checked_uln(value)


def uln_value_any_check_digit(value: str | None) -> str | None:
    """A parameter callback for a ULN whose wrong check digit the command itself judges."""
    return None if value is None else checked_uln(value, check_digit=False)


def checked_ao_id(text: str) -> str:
    """An AO's recognition number as the register spells it (RN9093), whatever its case and spaces around it."""
    ao_id = text.strip().upper()
    if not _AO_ID.fullmatch(ao_id):
        raise UsageError(f"{text!r} is not an AO id: an AO's recognition number is RN and up to 8 digits, like RN9093")
    return ao_id


def ao_id_value(value: str | None) -> str | None:
    """A parameter callback for an AO id: upper-cased (rn9093 is RN9093), else refused."""
    return None if value is None else checked_ao_id(value)


UlnArgument = Annotated[
    str, typer.Argument(help="The learner's Unique Learner Number (10 digits).", callback=uln_value)
]
