"""Reference data in PostgreSQL (schema `validation`): the Ofqual catalogue and the awarding organisations,
replaced whole by each load and re-read only when a newer load exists. The learner registry, in the same
schema, is `validation.learner_registry`'s.

Live loads them from the reference files (`lrs reference load`). The Sandpit loads the shipped files at its first
start, then keeps the catalogue equal to live's newest load, read from live's catalogue topic
(`validation.sandpit_catalogue`, `replace_catalogue`): those loads are recorded as `live reference load <version>`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

import asyncpg

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.identifiers import display_qan
from lrs_domain.reference import AwardingOrganisation, Catalogue, Qualification
from lrs_domain.reference_data import (
    ReferenceDataError,
    load_awarding_organisations,
    load_extra_qualifications,
    load_ofqual_catalogue,
)
from lrs_domain.reference_files import (
    AWARDING_ORGANISATIONS,
    EXTRA_QUALIFICATIONS,
    OFQUAL_SNAPSHOT,
    REFERENCE_FILE_NAMES,
    decoded_reference_file,
    shipped_reference,
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
REMOVABLE_SHARE = 0.05
"""The share of the catalogue's qualifications a load may remove unless the operator allows more (`LoadRules`)."""
_NAMED_AT_MOST = 5
"""How many qualifications or AO ids a refusal names; the rest are counted."""
_QUALIFICATION_COLUMNS = (
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
)


class ReferenceFileRefused(Exception):
    """A reference file that cannot be loaded: missing, not UTF-8, or a row the parser refuses. Nothing is loaded."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class ReferenceLoadUnconfirmed(Exception):
    """A load the operator did not allow (`LoadRules`): it would remove too much, or change AO ids. Nothing is
    loaded; the message says why, with the counts."""


@dataclass(frozen=True)
class LoadRules:
    """What an operator's load may do to the catalogue it replaces: more than `REMOVABLE_SHARE` of it removed (or
    all of it), and qualifications moved to another AO id or an AO id they use dropped from the list."""

    allow_removals: bool = False
    allow_ao_changes: bool = False


@dataclass(frozen=True)
class CatalogueChange:
    """What a load changes in the catalogue: qualifications (QAN and pathway) before and after, added, removed and
    changed (another title, AO, level, type or grade set); `moved`: (qualification, AO id before, after) of those
    whose AO id changes; `dropped_ao_ids`: AO ids the catalogue's qualifications use that the new AO list lacks."""

    before: int
    after: int
    added: int
    removed: int
    changed: int
    moved: tuple[tuple[str, str, str], ...] = ()
    dropped_ao_ids: tuple[str, ...] = ()

    @staticmethod
    def between(
        current: Sequence[Sequence[object]], loaded: Sequence[Sequence[object]], ao_ids: Collection[str]
    ) -> CatalogueChange:
        """From the catalogue's rows now and the load's (as `validation.qualifications` holds them, the QAN and
        pathway first, the AO id fourth), and the load's AO ids."""
        before = {(row[0], row[1]): tuple(row) for row in current}
        after = {(row[0], row[1]): tuple(row) for row in loaded}
        kept = before.keys() & after.keys()
        moved = sorted(
            (_named(key), str(before[key][3]), str(after[key][3])) for key in kept if before[key][3] != after[key][3]
        )
        return CatalogueChange(
            before=len(before),
            after=len(after),
            added=len(after.keys() - before.keys()),
            removed=len(before.keys() - after.keys()),
            changed=sum(before[key] != after[key] for key in kept),
            moved=tuple(moved),
            dropped_ao_ids=tuple(sorted({str(row[3]) for row in before.values()} - set(ao_ids))),
        )

    def refusals(self, rules: LoadRules) -> list[str]:
        """Why `rules` do not allow this change (none: it may be loaded)."""
        refusals = []
        too_many = self.removed > self.before * REMOVABLE_SHARE or (self.before > 0 and self.after == 0)
        if too_many and not rules.allow_removals:
            refusals.append(
                f"{self.before:,} → {self.after:,}: {self.removed:,} qualifications would be removed (more than"
                f" {REMOVABLE_SHARE:.0%} of the catalogue; if that is meant, query.allow_removals allows it)"
            )
        ao_changes = bool(self.moved or self.dropped_ao_ids) and not rules.allow_ao_changes
        if self.moved and ao_changes:
            named = [f"{qualification} ({before} → {after})" for qualification, before, after in self.moved]
            refusals.append(
                f"{len(self.moved):,} {_plural(len(self.moved), 'qualification')} would move to another awarding"
                f" organisation id: {_some(named)}"
            )
        if self.dropped_ao_ids and ao_changes:
            refusals.append(
                f"the awarding organisations list no longer has {_some(list(self.dropped_ao_ids))}, which"
                " qualifications in the catalogue are awarded under"
            )
        if self.moved and ao_changes:
            refusals.append(
                "an AO's id is part of every achievement's key: achievements recorded under the old id could no"
                " longer be updated under it (only withdrawn or reinstated), nor corrected under the new one"
            )
        elif ao_changes:
            refusals.append("that awarding organisation could no longer send results of those qualifications")
        if ao_changes:
            refusals.append("if the change is meant, query.allow_ao_changes allows it")
        return refusals


def _named(key: tuple[object, object]) -> str:
    number = display_qan(str(key[0]))
    return f"{number} pathway {key[1]}" if key[1] else number


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _some(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMED_AT_MOST])
    return shown if len(names) <= _NAMED_AT_MOST else f"{shown} and {len(names) - _NAMED_AT_MOST:,} more"


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
    sha256: Mapping[str, str] = field(default_factory=dict)
    """The SHA-256 of each file read, by its name (kept with the load, `validation.reference_loads`)."""

    @staticmethod
    def read(directory: Traversable | None = None) -> ReferenceFiles:
        """The files in `directory`, by default the ones shipped with lrs_domain. `ReferenceFileRefused` for a file
        that is missing, cannot be read or is not UTF-8, naming it."""
        digests: dict[str, str] = {}
        return ReferenceFiles(
            _read_file(AWARDING_ORGANISATIONS, directory, digests),
            _read_file(OFQUAL_SNAPSHOT, directory, digests),
            _read_file(EXTRA_QUALIFICATIONS, directory, digests),
            digests,
        )


def _read_file(name: str, directory: Traversable | None, digests: dict[str, str]) -> str:
    try:
        content = (directory or shipped_reference()).joinpath(name).read_bytes()
        digests[name] = hashlib.sha256(content).hexdigest()
        return decoded_reference_file(content)
    except ReferenceDataError as error:
        raise ReferenceFileRefused(name, str(error)) from error
    except FileNotFoundError as error:  # an OSError, which would otherwise be said as the database away
        raise ReferenceFileRefused(
            name,
            f"there is no such file in {directory}: the reference files are read under the names"
            f" {', '.join(REFERENCE_FILE_NAMES)} (a newer register snapshot is saved as {OFQUAL_SNAPSHOT})",
        ) from error
    except OSError as error:
        raise ReferenceFileRefused(name, f"the file cannot be read ({error.strerror or error})") from error


@dataclass
class _Read:
    """The catalogue and AOs as last read, and the load they were read at (None: not read yet)."""

    version: int | None = None
    catalogue: Catalogue = field(default_factory=Catalogue)
    awarding_organisations: dict[str, AwardingOrganisation] = field(default_factory=dict)


class ReferenceStore:
    def __init__(
        self, pool: asyncpg.Pool, read: _Read | None = None, rules: LoadRules | None = None, by: str | None = None
    ) -> None:
        self._pool = pool
        self._read = _Read() if read is None else read
        self._rules = rules
        self._by = by
        self.change: CatalogueChange | None = None
        """What this store's last `load` changed (None before one)."""

    def ruled(self, rules: LoadRules, by: str) -> ReferenceStore:
        """This store (its pool and the catalogue it read shared) for one operator's load, `by` them: `load`
        compares the files with the catalogue they replace, refuses what `rules` do not allow
        (`ReferenceLoadUnconfirmed`), keeps what it changed in `change`, and records the operator with the load. A
        store not ruled so loads whatever the files hold."""
        return ReferenceStore(self._pool, self._read, rules, by)

    def on_pool(self, pool: asyncpg.Pool) -> ReferenceStore:
        """This store on another pool of the same database (the decider's own), the catalogue it read shared: one
        decoded catalogue a process, not one a pool."""
        return ReferenceStore(pool, self._read)

    async def is_empty(self) -> bool:
        return not await self._pool.fetchval(_ANY_QUALIFICATION)

    async def load(self, files: ReferenceFiles) -> tuple[int, int]:
        """Replaces the catalogue and AO list with the files' content. Returns (AOs, qualifications stored).
        `ReferenceFileRefused` for a file the parser refuses, naming it; `ReferenceLoadUnconfirmed` for a change
        a ruled store's rules do not allow (`ruled`). Either way nothing is changed."""
        rows = _ReferenceRows.of(files)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOADING_LOCK)
            if self._rules is not None:
                current = await connection.fetch(
                    f"SELECT {', '.join(_QUALIFICATION_COLUMNS)} FROM validation.qualifications"
                )
                change = CatalogueChange.between(
                    [(*row.values(),) for row in current],
                    rows.qualifications,
                    {ao_id for ao_id, _ in rows.organisations},
                )
                refusals = change.refusals(self._rules)
                if refusals:
                    raise ReferenceLoadUnconfirmed(f"{'; '.join(refusals)}.")
                self.change = change
            return await _replace_reference(connection, rows, self._by, files.sha256)

    async def load_first(self, files: ReferenceFiles) -> bool:
        """Loads `files` unless reference data is there already; True when this call loaded it. Instances
        starting together on an empty database load it once: the others wait, then find it loaded."""
        rows = _ReferenceRows.of(files)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOADING_LOCK)
            if await connection.fetchval(_ANY_QUALIFICATION):
                return False
            await _replace_reference(connection, rows, None, files.sha256)
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

    @classmethod
    def of(cls, files: ReferenceFiles) -> _ReferenceRows:
        """`ReferenceFileRefused` for a file the parser refuses (a row it cannot read, an AO id or name on two
        rows, a qualification on two rows of one file, an extra row's AO id not in the AO list), naming it."""
        with _refusing(AWARDING_ORGANISATIONS):
            organisations = load_awarding_organisations(files.awarding_organisations)
        ao_ids = {organisation.name: organisation.ao_id for organisation in organisations}
        with _refusing(OFQUAL_SNAPSHOT):
            register = load_ofqual_catalogue(files.ofqual_catalogue, ao_ids)
        with _refusing(EXTRA_QUALIFICATIONS):
            extra = load_extra_qualifications(files.extra_qualifications, set(ao_ids.values()))
        # an extra row of a register row's QAN (and no pathway) takes its place: the one way to correct its grade set
        return cls(
            [(organisation.ao_id, organisation.name) for organisation in organisations],
            [_qualification_row(qualification) for qualification in _unique([*register, *extra])],
        )


@contextmanager
def _refusing(file: str) -> Iterator[None]:
    try:
        yield
    except ReferenceDataError as error:
        raise ReferenceFileRefused(file, str(error)) from error


async def _replace_reference(
    connection: asyncpg.Connection, rows: _ReferenceRows, by: str | None, sha256: Mapping[str, str]
) -> tuple[int, int]:
    await connection.execute("DELETE FROM validation.qualifications")
    await connection.execute("DELETE FROM validation.awarding_organisations")
    await connection.copy_records_to_table(
        "awarding_organisations", schema_name="validation", records=rows.organisations
    )
    await _copy_qualifications(connection, rows.qualifications)
    # the rows stored, not those read: an extra row correcting a register row replaces it
    await connection.execute(
        "INSERT INTO validation.reference_loads (what, rows, operator, sha256) VALUES ('catalogue', $1, $2, $3)",
        len(rows.qualifications),
        by,
        json.dumps(dict(sha256)) if sha256 else None,
    )
    return len(rows.organisations), len(rows.qualifications)


async def _copy_qualifications(connection: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    await connection.copy_records_to_table(
        "qualifications",
        schema_name="validation",
        columns=list(_QUALIFICATION_COLUMNS),
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
