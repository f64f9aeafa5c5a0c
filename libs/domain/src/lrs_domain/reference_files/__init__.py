"""The reference data shipped inside `lrs_domain` as package data, so an installed wheel carries it.

The Ofqual register snapshot, the awarding organisations and the extra NQF/QCF rows (what each one
is: `reference/README.md`). Parsed by `lrs_domain.reference_data`; an operator's own copy of the files
(`VALIDATION_REFERENCE_DIR`, `lrs batch check --reference-dir`) takes their place.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from lrs_domain.formats.csv_batch import _decode as decoded_csv
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.reference import AwardingOrganisation, Catalogue
from lrs_domain.reference_data import (
    ReferenceDataError,
    load_awarding_organisations,
    load_extra_qualifications,
    load_ofqual_catalogue,
)

OFQUAL_SNAPSHOT = "ofqual-approved-qualifications-2025-02-18.csv"
AWARDING_ORGANISATIONS = "awarding-organisations.csv"
EXTRA_QUALIFICATIONS = "extra-qualifications.csv"
REFERENCE_FILE_NAMES = (AWARDING_ORGANISATIONS, OFQUAL_SNAPSHOT, EXTRA_QUALIFICATIONS)
"""The names the files are read under: a newer register snapshot is saved under `OFQUAL_SNAPSHOT`'s name."""


def shipped_reference() -> Traversable:
    """The folder of the shipped files (a plain directory in a source checkout and in an installed wheel)."""
    return files(__name__)


def read_reference_file(name: str, directory: Traversable | None = None) -> str:
    """The file's text, read as a CSV batch's is (a UTF-8 byte order mark left out). A file that is not UTF-8 (one
    saved from Excel as plain "CSV") is a `ReferenceDataError` naming the line, the field and the byte, as a batch's
    or a learner file's refusal does; a missing file is `FileNotFoundError`."""
    return decoded_reference_file((directory or shipped_reference()).joinpath(name).read_bytes())


def decoded_reference_file(content: bytes) -> str:
    """A reference file's bytes as text, as `read_reference_file` reads them."""
    try:
        return decoded_csv(content)
    except BatchRefused as refusal:
        raise ReferenceDataError(f"line {refusal.line}, column {refusal.column}: {refusal.detail}") from None


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
            *load_extra_qualifications(
                read_reference_file(EXTRA_QUALIFICATIONS, directory), {ao.ao_id for ao in organisations}
            ),
        ]
    )


def load_register(directory: Traversable | None = None) -> dict[str, AwardingOrganisation]:
    """The awarding organisations of the files in `directory` (by default the shipped ones), by AO id."""
    organisations = load_awarding_organisations(read_reference_file(AWARDING_ORGANISATIONS, directory))
    return {organisation.ao_id: organisation for organisation in organisations}
