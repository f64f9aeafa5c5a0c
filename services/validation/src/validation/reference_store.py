"""Reference data in PostgreSQL (schema `validation`): the Ofqual catalogue and the awarding organisations,
replaced whole by each load and re-read only when a newer load exists. The learner registry, in the same
schema, is `validation.learner_registry`'s.

Live loads them from the reference files (`lrs reference load`). The Sandpit loads the shipped files at its first
start, then keeps the catalogue equal to live's newest load, read from live's catalogue topic
(`validation.sandpit_catalogue`, `replace_catalogue`): those loads are recorded as `live reference load <version>`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

import asyncpg

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.reference import AwardingOrganisation, Catalogue, Qualification
from lrs_domain.reference_data import (
    load_awarding_organisations,
    load_extra_qualifications,
    load_ofqual_catalogue,
)
from lrs_domain.reference_files import (
    AWARDING_ORGANISATIONS,
    EXTRA_QUALIFICATIONS,
    OFQUAL_SNAPSHOT,
    read_reference_file,
)
from lrs_platform.database import advisory_lock_key, advisory_locked

# Held while the catalogue and AO list are replaced: loads never interleave.
_LOADING_LOCK = advisory_lock_key("validation reference load")
# Held (on a connection of its own) for the whole of a live load and its publishing onto the catalogue topic: two
# loads take turns, and each reads the keys the one before it published (`published_keys`) after that one is done.
_PUBLISHING_LOCK = "validation catalogue publish"
_ANY_QUALIFICATION = "SELECT EXISTS (SELECT 1 FROM validation.qualifications)"
_NEWEST_LOAD = "SELECT what, rows FROM validation.reference_loads ORDER BY version DESC LIMIT 1"
_ADD_PUBLISHED_KEYS = (
    "INSERT INTO validation.published_catalogue_keys (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING"
)
LIVE_LOAD = "live reference load "
"""How the Sandpit records a catalogue copied from live's load: `live reference load <live's version>`."""


@dataclass(frozen=True)
class Load:
    """A row of `validation.reference_loads`: what was loaded and how many rows."""

    what: str
    rows: int

    @property
    def live_version(self) -> int | None:
        """The version of live's load this is a copy of (the Sandpit's), or None for a load of the files."""
        number = self.what.removeprefix(LIVE_LOAD)
        return int(number) if self.what.startswith(LIVE_LOAD) and number.isdigit() else None


@dataclass(frozen=True)
class ReferenceFiles:
    awarding_organisations: str
    ofqual_catalogue: str
    extra_qualifications: str

    @staticmethod
    def read(directory: Traversable | None = None) -> ReferenceFiles:
        """The files in `directory`, by default the ones shipped with lrs_domain."""
        return ReferenceFiles(
            read_reference_file(AWARDING_ORGANISATIONS, directory),
            read_reference_file(OFQUAL_SNAPSHOT, directory),
            read_reference_file(EXTRA_QUALIFICATIONS, directory),
        )


@dataclass
class _Read:
    """The catalogue and AOs as last read, and the load they were read at (None: not read yet)."""

    version: int | None = None
    catalogue: Catalogue = field(default_factory=Catalogue)
    awarding_organisations: dict[str, AwardingOrganisation] = field(default_factory=dict)


class ReferenceStore:
    def __init__(self, pool: asyncpg.Pool, read: _Read | None = None) -> None:
        self._pool = pool
        self._read = _Read() if read is None else read

    def on_pool(self, pool: asyncpg.Pool) -> ReferenceStore:
        """This store on another pool of the same database (the decider's own), the catalogue it read shared: one
        decoded catalogue a process, not one a pool."""
        return ReferenceStore(pool, self._read)

    async def is_empty(self) -> bool:
        return not await self._pool.fetchval(_ANY_QUALIFICATION)

    async def load(self, files: ReferenceFiles) -> tuple[int, int]:
        """Replaces the catalogue and AO list with the files' content. Returns (AOs, qualifications)."""
        rows = _ReferenceRows.of(files)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOADING_LOCK)
            return await _replace_reference(connection, rows)

    async def load_first(self, files: ReferenceFiles) -> bool:
        """Loads `files` unless reference data is there already; True when this call loaded it. Instances
        starting together on an empty database load it once: the others wait, then find it loaded."""
        rows = _ReferenceRows.of(files)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOADING_LOCK)
            if await connection.fetchval(_ANY_QUALIFICATION):
                return False
            await _replace_reference(connection, rows)
            return True

    async def replace_catalogue(self, qualifications: Sequence[Qualification], what: str) -> bool:
        """Replaces the catalogue with `qualifications` (the AO list stays as it is: judging does not read it), as
        the load `what`, in one transaction; False, with nothing done, when the newest load is `what` already with
        as many rows."""
        rows = [_qualification_row(qualification) for qualification in _unique(qualifications)]
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOADING_LOCK)
            newest = await connection.fetchrow(_NEWEST_LOAD)
            if newest is not None and (newest["what"], newest["rows"]) == (what, len(rows)):
                return False
            await connection.execute("DELETE FROM validation.qualifications")
            await _copy_qualifications(connection, rows)
            await connection.execute(
                "INSERT INTO validation.reference_loads (what, rows) VALUES ($1, $2)", what, len(rows)
            )
        return True

    def publishing(self) -> AbstractAsyncContextManager[None]:
        """Held while a load is made and put onto live's catalogue topic (`validation.catalogue_publisher`): one load
        and its publishing at a time, across every replica."""
        return advisory_locked(self._pool, _PUBLISHING_LOCK)

    async def published_keys(self) -> set[str]:
        """The catalogue topic's keys whose last message may be a row (`validation.published_catalogue_keys`): a
        load tombstones those it lacks."""
        return {row["key"] for row in await self._pool.fetch("SELECT key FROM validation.published_catalogue_keys")}

    async def add_published_keys(self, keys: Collection[str]) -> None:
        """Notes `keys` as ones whose rows are about to be sent, before the first is: if the sending fails half-way,
        the next load still tombstones those it lacks."""
        await self._pool.execute(_ADD_PUBLISHED_KEYS, list(keys))

    async def keep_published_keys(self, keys: Collection[str]) -> None:
        """Once a load's every row and tombstone is acknowledged: its `keys` are all the topic holds rows of."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM validation.published_catalogue_keys WHERE NOT (key = ANY($1::text[]))", list(keys)
            )
            await connection.execute(_ADD_PUBLISHED_KEYS, list(keys))

    async def newest_load(self) -> Load | None:
        """What the catalogue was last loaded from, or None before any load."""
        row = await self._pool.fetchrow(_NEWEST_LOAD)
        return None if row is None else Load(row["what"], row["rows"])

    async def version(self) -> int:
        version: int = await self._pool.fetchval("SELECT coalesce(max(version), 0) FROM validation.reference_loads")
        return version

    async def current(self) -> tuple[Catalogue, dict[str, AwardingOrganisation]]:
        """The catalogue and AOs, re-read only when a newer load exists."""
        version = await self.version()
        read = self._read
        if version != read.version:
            rows = await self._pool.fetch("SELECT * FROM validation.qualifications")
            catalogue = Catalogue.of(_qualification_of(row) for row in rows)
            organisations = {
                row["ao_id"]: AwardingOrganisation(row["ao_id"], row["name"])
                for row in await self._pool.fetch("SELECT ao_id, name FROM validation.awarding_organisations")
            }
            read.catalogue, read.awarding_organisations, read.version = catalogue, organisations, version
        return read.catalogue, read.awarding_organisations


@dataclass(frozen=True)
class _ReferenceRows:
    """The reference files read into rows, before any lock is taken."""

    organisations: list[tuple[str, str]]
    qualifications: list[tuple[object, ...]]
    qualifications_read: int

    @classmethod
    def of(cls, files: ReferenceFiles) -> _ReferenceRows:
        organisations = load_awarding_organisations(files.awarding_organisations)
        ao_ids = {organisation.name: organisation.ao_id for organisation in organisations}
        qualifications = [
            *load_ofqual_catalogue(files.ofqual_catalogue, ao_ids),
            *load_extra_qualifications(files.extra_qualifications),
        ]
        return cls(
            [(organisation.ao_id, organisation.name) for organisation in organisations],
            [_qualification_row(qualification) for qualification in _unique(qualifications)],
            len(qualifications),
        )


async def _replace_reference(connection: asyncpg.Connection, rows: _ReferenceRows) -> tuple[int, int]:
    await connection.execute("DELETE FROM validation.qualifications")
    await connection.execute("DELETE FROM validation.awarding_organisations")
    await connection.copy_records_to_table(
        "awarding_organisations", schema_name="validation", records=rows.organisations
    )
    await _copy_qualifications(connection, rows.qualifications)
    await connection.execute(
        "INSERT INTO validation.reference_loads (what, rows) VALUES ('catalogue', $1)", rows.qualifications_read
    )
    return len(rows.organisations), rows.qualifications_read


async def _copy_qualifications(connection: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    await connection.copy_records_to_table(
        "qualifications",
        schema_name="validation",
        columns=[
            "qualification_number",
            "pathway",
            "title",
            "ao_id",
            "ao_name",
            "level",
            "qualification_type",
            "framework",
            "kind",
            "grade_set",
            "source",
        ],
        records=rows,
    )


def _unique(qualifications: Iterable[Qualification]) -> list[Qualification]:
    seen: dict[tuple[str, str], Qualification] = {}
    for qualification in qualifications:
        seen[(qualification.qualification_number, qualification.pathway or "")] = qualification
    return list(seen.values())


def _qualification_row(qualification: Qualification) -> tuple[object, ...]:
    return (
        qualification.qualification_number,
        qualification.pathway or "",
        qualification.title,
        qualification.awarding_organisation_id,
        qualification.awarding_organisation_name,
        qualification.level,
        qualification.qualification_type,
        qualification.framework.value,
        qualification.kind.value,
        list(qualification.grade_set),
        "catalogue",
    )


def _qualification_of(row: asyncpg.Record) -> Qualification:
    return Qualification(
        qualification_number=row["qualification_number"],
        pathway=row["pathway"] or None,
        title=row["title"],
        awarding_organisation_id=row["ao_id"],
        awarding_organisation_name=row["ao_name"],
        level=row["level"],
        qualification_type=row["qualification_type"],
        framework=Framework(row["framework"]),
        kind=QualificationKind(row["kind"]),
        grade_set=tuple(row["grade_set"]),
    )
