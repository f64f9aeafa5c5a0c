"""A learner file's CPU work runs off the event loop, which the decider shares: parsing the file, building the
registry's rows and sealing each new learner's registration take ~35 µs of CPU a learner, tens of seconds for a
file at the limit, longer than the decider's Kafka session (10 s) lets it go without a heartbeat. Its keys are
issued a slice at a time, the key store's round trips letting the loop run between them. What the import
answers, stores and queues is unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import date
from typing import Any

import httpx
import pytest

import validation.learner_registry as learner_registry
import validation.learner_registry_api as learner_registry_api
from lrs_contracts.learner import LearnerRegistered
from lrs_contracts.registry import decode
from lrs_domain.identifiers import uln_check_digit
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, ERASED, KeyLookup, LearnerKey
from validation.api import router
from validation.learner_registry import ErasedLearnerError, LearnerRegistry, RegistryImport

CSV_HEADER = "ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n"
HELD_ALREADY = 2  # the first learners of a file are registered already, with the details the file gives
LEARNERS = 20_005  # a file of more than two slices of keys (`_KEYS_AT_ONCE`)


def _ulns(count: int) -> list[str]:
    first_nines = (str(number) for number in range(100_000_000, 1_000_000_000))
    valid = (f"{first_nine}{digit}" for first_nine in first_nines if (digit := uln_check_digit(first_nine)) is not None)
    return [next(valid) for _ in range(count)]


def _on_the_loop() -> bool:
    """Whether the caller runs on an event loop's thread (a worker thread has no running loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _watched(work: Callable[..., Any], calls: list[bool]) -> Callable[..., Any]:
    """`work`, noting for each call whether it ran on the event loop."""

    def watched(*args: Any, **kwargs: Any) -> Any:
        calls.append(_on_the_loop())
        return work(*args, **kwargs)

    return watched


class Registry:
    """The registry the import route hands the file's learners to."""

    def __init__(self) -> None:
        self.imported: list[Learner] = []

    async def register_learners(self, learners: Sequence[Learner], *, imported_by: str) -> RegistryImport:
        self.imported.extend(learners)
        return RegistryImport(new=len(learners), updated=0, unchanged=0, merged=0)


async def test_a_learner_file_is_parsed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bool] = []
    monkeypatch.setattr(
        learner_registry_api, "parse_learners_csv", _watched(learner_registry.parse_learners_csv, parsed)
    )
    registry = Registry()
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    ulns = _ulns(3)
    rows = "".join(f"{uln},Lily,McCarthy,2001-02-03,2,1,\n" for uln in ulns)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        answer = await client.post(
            "/v1/learners/import",
            content=("\ufeff" + CSV_HEADER + rows).encode(),
            headers={"content-type": "text/csv"},
        )
        unreadable = await client.post(
            "/v1/learners/import", content=CSV_HEADER.encode() + b"\xff\n", headers={"content-type": "text/csv"}
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["registered"] == 3
    assert [learner.uln for learner in registry.imported] == ulns
    assert parsed == [False]  # parsed on a worker thread, not on the loop
    assert unreadable.status_code == 422, unreadable.text  # a file that is not UTF-8: the same answer as before
    assert "not UTF-8" in unreadable.json()["detail"]


class Keyring:
    """The key store: a key for each ULN asked, ERASED for the erased; notes the ULNs each call asked for."""

    def __init__(self, erased: Iterable[str] = ()) -> None:
        self.erased = set(erased)
        self.asked: list[list[str]] = []

    async def issue(self, ulns: Iterable[str]) -> KeyLookup:
        asked = list(ulns)
        self.asked.append(asked)
        return {uln: ERASED if uln in self.erased else LearnerKey(uln, os.urandom(DATA_KEY_BYTES)) for uln in asked}


class Connection:
    """A transaction on the registry, answering the statements of an import of learners, some held already."""

    def __init__(self, held: Iterable[str]) -> None:
        self.held = set(held)
        self.queued: list[tuple[str, bytes]] = []
        self.stored: list[list[object]] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def fetch(self, query: str, *arguments: Any) -> list[dict[str, Any]]:
        if "FOR UPDATE" in query:  # the learners held: as the file gives them (so unchanged), able to share
            return [
                {"uln": uln, **_HELD_DETAILS, "ability_to_share": 1, "ability_to_share_in_file": 1, "erased": False}
                for uln in arguments[0]
                if uln in self.held
            ]
        if query.startswith("INSERT INTO validation.learners"):  # the rows inserted (the held, unchanged, are not sent)
            self.stored = list(arguments)
            return [{"uln": uln, "inserted": True} for uln in arguments[0] if uln not in self.held]
        if "erased_at IS NOT NULL" in query:
            return []
        raise AssertionError(f"an unexpected statement: {query}")

    async def execute(self, query: str, *arguments: Any) -> str:
        if query == "SELECT pg_advisory_xact_lock($1)":  # the merges lock, which every import holds
            return "SELECT 1"
        assert query.startswith("UPDATE validation.learners AS held SET ability_to_share_in_file"), query
        return "UPDATE 0"

    async def executemany(self, query: str, rows: Iterable[tuple[str, bytes]]) -> None:
        assert query == learner_registry._QUEUE
        self.queued.extend(rows)


class Pool:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        yield self.connection


def _learner(uln: str) -> Learner:
    return Learner(uln, "Lily", "McCarthy", date(2001, 2, 3), 2, 1)


_HELD_DETAILS = {"given_name": "Lily", "family_name": "McCarthy", "date_of_birth": date(2001, 2, 3), "gender": 2}


async def test_an_import_builds_and_seals_its_rows_off_the_event_loop_and_issues_keys_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows_built: list[bool] = []
    sealed: list[bool] = []
    monkeypatch.setattr(learner_registry, "_registry_row", _watched(learner_registry._registry_row, rows_built))
    monkeypatch.setattr(learner_registry, "_registered_event", _watched(learner_registry._registered_event, sealed))
    count = LEARNERS
    ulns = _ulns(count)
    connection = Connection(held=ulns[:HELD_ALREADY])
    keyring = Keyring()
    registry = LearnerRegistry(Pool(connection), keyring)  # type: ignore[arg-type]

    imported = await registry.register_learners([_learner(uln) for uln in ulns], imported_by="operator:ops")

    assert imported == RegistryImport(new=count - HELD_ALREADY, updated=0, unchanged=HELD_ALREADY, merged=0)
    assert rows_built == [False] * (count - HELD_ALREADY)  # every registry row written built on a worker thread
    assert sealed == [False] * (count - HELD_ALREADY)  # every new learner sealed on a worker thread
    assert connection.stored[0] == ulns[HELD_ALREADY:]  # the held, as the file gives them, are not written
    assert [uln for uln, _ in connection.queued] == ulns[HELD_ALREADY:]
    _, event = decode(connection.queued[0][1])
    assert isinstance(event, LearnerRegistered) and event.uln == ulns[HELD_ALREADY]
    # every learner's key issued once, no call asking more than a slice's worth
    assert sorted(uln for asked in keyring.asked for uln in asked) == sorted(ulns)
    assert max(len(asked) for asked in keyring.asked) <= learner_registry._KEYS_AT_ONCE < LEARNERS // 2


async def test_a_file_naming_erased_learners_in_different_slices_is_refused_naming_each() -> None:
    ulns = _ulns(LEARNERS)
    erased = [ulns[0], ulns[-1]]  # in the first slice of keys and in the last
    connection = Connection(held=())
    registry = LearnerRegistry(Pool(connection), Keyring(erased))  # type: ignore[arg-type]
    with pytest.raises(ErasedLearnerError) as refused:
        await registry.register_learners([_learner(uln) for uln in ulns], imported_by="operator:ops")
    assert str(refused.value) == ", ".join(sorted(uln[-4:] for uln in erased))
    assert connection.queued == [] and connection.stored == []  # refused before the transaction, as before
