"""The reference data shipped inside `lrs_domain` as package data, so an installed wheel carries it.

The Ofqual register snapshot, the awarding organisations and the extra NQF/QCF rows (what each one
is: `reference/README.md`). Parsed by `lrs_domain.reference_data`; an operator's own copy of the files
(`VALIDATION_REFERENCE_DIR`, `lrs batch check --reference-dir`) takes their place.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from lrs_domain.reference import AwardingOrganisation, Catalogue
from lrs_domain.reference_data import load_awarding_organisations, load_extra_qualifications, load_ofqual_catalogue

OFQUAL_SNAPSHOT = "ofqual-approved-qualifications-2025-02-18.csv"
AWARDING_ORGANISATIONS = "awarding-organisations.csv"
EXTRA_QUALIFICATIONS = "extra-qualifications.csv"


def shipped_reference() -> Traversable:
    """The folder of the shipped files (a plain directory in a source checkout and in an installed wheel)."""
    return files(__name__)


def read_reference_file(name: str, directory: Traversable | None = None) -> str:
    return (directory or shipped_reference()).joinpath(name).read_text(encoding="utf-8-sig")


def load_catalogue(directory: Traversable | None = None) -> Catalogue:
    """The catalogue of the files in `directory`, by default the shipped ones (read once a process: they are
    package data, and the catalogue is never changed)."""
    return _shipped_catalogue() if directory is None else _read_catalogue(directory)


@cache
def _shipped_catalogue() -> Catalogue:
    return _read_catalogue(None)


def _read_catalogue(directory: Traversable | None) -> Catalogue:
    organisations = load_awarding_organisations(read_reference_file(AWARDING_ORGANISATIONS, directory))
    ao_ids = {organisation.name: organisation.ao_id for organisation in organisations}
    return Catalogue.of(
        [
            *load_ofqual_catalogue(read_reference_file(OFQUAL_SNAPSHOT, directory), ao_ids),
            *load_extra_qualifications(read_reference_file(EXTRA_QUALIFICATIONS, directory)),
        ]
    )


def load_register(directory: Traversable | None = None) -> dict[str, AwardingOrganisation]:
    """The awarding organisations of the files in `directory` (by default the shipped ones), by AO id."""
    organisations = load_awarding_organisations(read_reference_file(AWARDING_ORGANISATIONS, directory))
    return {organisation.ao_id: organisation for organisation in organisations}
